//! The one exit-code type. See README: 0 success, 1 problems found (or a
//! failed operation), 2 could not run (bad arguments, unreadable directory).
//! `plan --detailed-exitcode` uses 2 for "changes present", as terraform does,
//! so there every error is 1.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success; `check` found no errors (warnings allowed).
    Ok,
    /// `check` found errors, or an operation failed.
    Failure,
    /// The command could not run: bad arguments, missing directory, I/O error.
    Unusable,
    /// `plan --detailed-exitcode`: success, and the plan has changes.
    Changes,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Unusable | Exit::Changes => 2,
        })
    }
}

/// Why a command stopped: a one-line reason and the exit code it means.
#[derive(Debug)]
pub struct Stop {
    pub exit: Exit,
    pub reason: String,
}

impl Stop {
    /// The command could not run (exit 2): a missing file, an unreadable directory.
    pub fn unusable(reason: impl Into<String>) -> Stop {
        Stop {
            exit: Exit::Unusable,
            reason: reason.into(),
        }
    }

    /// The command ran and refused, or the operation failed (exit 1).
    pub fn refused(reason: impl Into<String>) -> Stop {
        Stop {
            exit: Exit::Failure,
            reason: reason.into(),
        }
    }
}

/// Print why a command stopped, and exit with its code.
pub fn finish(result: Result<Exit, Stop>) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(stop) => {
            crate::output::fatal(stop.reason);
            stop.exit
        }
    }
}
