//! The one exit-code type. See README: 0 success, 1 problems found (or a
//! failed operation), 2 could not run (bad arguments, unreadable directory).
//! `plan --detailed-exitcode` will use 2 for "changes present", as terraform does.

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
