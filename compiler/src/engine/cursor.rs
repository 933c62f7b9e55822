//! Where an enrolment is in a scenario's steps: a path through nested step
//! lists (`2/then/0`: the first step of the `then` branch of the third step).
//! Its text form is stable within a scenario version, so it is stored in the
//! state and is part of every send's idempotency key.

use super::StepTree;
use std::fmt;

/// Which list of steps a frame walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Branch {
    /// The scenario's own steps.
    Root,
    Then,
    Else,
    /// `on_timeout` of a `wait until`.
    Timeout,
}

impl Branch {
    fn as_str(self) -> &'static str {
        match self {
            Branch::Root => "root",
            Branch::Then => "then",
            Branch::Else => "else",
            Branch::Timeout => "timeout",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Frame {
    branch: Branch,
    index: usize,
}

/// A position in a scenario: the next step to run. Past the end of the
/// scenario's steps, the enrolment is complete.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cursor(Vec<Frame>);

impl Default for Cursor {
    fn default() -> Self {
        Cursor::start()
    }
}

impl Cursor {
    /// The first step of a scenario.
    pub fn start() -> Cursor {
        Cursor(vec![Frame {
            branch: Branch::Root,
            index: 0,
        }])
    }

    /// The list of steps the innermost frame walks, given the scenario's steps.
    fn list<'s, S: StepTree>(&self, steps: &'s [S]) -> Option<&'s [S]> {
        let mut list = steps;
        for pair in self.0.windows(2) {
            let parent = list.get(pair[0].index)?;
            list = parent.branch(pair[1].branch)?;
        }
        Some(list)
    }

    /// The step under the cursor. `None` when the cursor is past the end of
    /// its list (see [`Cursor::settle`]) or does not fit the steps.
    pub fn step<'s, S: StepTree>(&self, steps: &'s [S]) -> Option<&'s S> {
        let last = self.0.last()?;
        self.list(steps)?.get(last.index)
    }

    /// Move to the step after the current one.
    pub fn next(&mut self) {
        if let Some(last) = self.0.last_mut() {
            last.index += 1;
        }
    }

    /// Enter a branch of the current step (its first step).
    pub fn enter(&mut self, branch: Branch) {
        self.0.push(Frame { branch, index: 0 });
    }

    /// Leave finished branches: when the innermost list is exhausted, go on
    /// after the step that held it. Returns `false` when the scenario's own
    /// steps are exhausted (the enrolment is complete), or when the cursor does
    /// not fit the steps.
    pub fn settle<S: StepTree>(&mut self, steps: &[S]) -> bool {
        loop {
            let Some(list) = self.list(steps) else { return false };
            let Some(last) = self.0.last() else { return false };
            if last.index < list.len() {
                return true;
            }
            if self.0.len() == 1 {
                return false;
            }
            self.0.pop();
            self.next();
        }
    }

    /// Whether the cursor names a step of these steps (a stored cursor read
    /// back against the scenario version it was made for).
    pub fn fits<S: StepTree>(&self, steps: &[S]) -> bool {
        self.0.first().is_some_and(|f| f.branch == Branch::Root)
            && self.0.iter().skip(1).all(|f| f.branch != Branch::Root)
            && self
                .list(steps)
                .is_some_and(|l| self.0.last().is_some_and(|f| f.index <= l.len()))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, frame) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "/{}/", frame.branch.as_str())?;
            }
            write!(f, "{}", frame.index)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a step position (such as `2` or `2/then/0`)");
        let mut parts = s.split('/');
        let first: usize = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let mut frames = vec![Frame {
            branch: Branch::Root,
            index: first,
        }];
        while let Some(b) = parts.next() {
            let branch = match b {
                "then" => Branch::Then,
                "else" => Branch::Else,
                "timeout" => Branch::Timeout,
                _ => return Err(bad()),
            };
            let index = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            frames.push(Frame { branch, index });
        }
        Ok(Cursor(frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::values::Duration;
    use crate::model::{Cond, CondKind, Step};
    use crate::source::Span;

    fn cond() -> Cond {
        Cond {
            kind: CondKind::Const { value: true },
            span: Span::default(),
        }
    }

    fn steps() -> Vec<Step> {
        let exit = || Step::Exit {
            reason: None,
            span: Span::default(),
        };
        vec![
            exit(),
            Step::If {
                condition: cond(),
                then: vec![exit(), exit()],
                otherwise: vec![],
                span: Span::default(),
            },
            Step::WaitUntil {
                until: cond(),
                timeout: Duration::from_minutes(24 * 60).unwrap(),
                on_timeout: vec![exit()],
                span: Span::default(),
            },
        ]
    }

    #[test]
    fn text_form_round_trips() {
        for s in ["0", "2", "1/then/1", "2/timeout/0", "1/else/0/then/3"] {
            let c: Cursor = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
        for bad in ["", "x", "1/then", "1/root/0", "1/sideways/0", "-1"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn settle_leaves_finished_branches() {
        let steps = steps();
        let mut c: Cursor = "1/then/1".parse().unwrap();
        assert!(c.settle(&steps));
        c.next();
        assert!(c.settle(&steps));
        assert_eq!(c.to_string(), "2");
        // An empty branch is left at once.
        let mut c = Cursor::start();
        c.0[0].index = 1;
        c.enter(Branch::Else);
        assert!(c.settle(&steps));
        assert_eq!(c.to_string(), "2");
        // Past the end of the root: complete.
        let mut c: Cursor = "2/timeout/0".parse().unwrap();
        c.next();
        assert!(!c.settle(&steps));
    }

    #[test]
    fn a_cursor_of_another_version_does_not_fit() {
        let steps = steps();
        assert!("1/then/1".parse::<Cursor>().unwrap().fits(&steps));
        assert!("3".parse::<Cursor>().unwrap().fits(&steps), "the end is a position");
        assert!(!"4".parse::<Cursor>().unwrap().fits(&steps));
        assert!(
            !"0/then/0".parse::<Cursor>().unwrap().fits(&steps),
            "exit has no branch"
        );
        assert!(!"1/then/3".parse::<Cursor>().unwrap().fits(&steps));
    }
}
