//! Work one compilation can hand to the next: a cache the caller owns.
//!
//! The compiler is pure, so a piece of its work is a function of the inputs
//! it reads; when those are unchanged, the result is reused. The language
//! server keeps one [`Cache`] for each plan directory and passes it to
//! [`crate::compile_with`] at every edit, so an edit re-does the work of the
//! file it touches plus the whole-plan stages (resolution, typing, rules),
//! which are cheap next to what is memoized. `herald check` compiles once
//! with an empty cache: the same code path.
//!
//! What is memoized, and the key that decides it (everything the work reads):
//! - a file's load (YAML parse and every declaration deserialised, with the
//!   file's own diagnostics): its id, path, kind, text and the budgets;
//! - a condition's parse: its file, offset, raw text and decoded value
//!   (parse errors are memoized too: they are part of the result);
//! - a template's analysis: its text, when it includes nothing and parses
//!   (a template that includes, imports or extends another reads other
//!   files: it is analysed again every time, as is one with a syntax error).
//!
//! Entries used by a compilation are kept for the next one; the others are
//! dropped then, so the cache holds at most two compilations' worth.

use crate::diagnostic::Diagnostic;
use crate::expr::Expr;
use crate::front::load::FileLoad;
use crate::source::{FileId, SourceKind};
use crate::template::Analysis;
use crate::yaml::Budgets;
use std::collections::HashMap;
use std::hash::Hash;

/// Memoized work of earlier compilations (see the module's documentation).
#[derive(Default)]
pub struct Cache {
    /// Off: nothing is kept (a single compilation, such as `herald check`,
    /// would only pay for copying its work into it).
    off: bool,
    pub(crate) files: Memo<(FileId, String), FileEntry>,
    pub(crate) conditions: Memo<ConditionKey, Result<Expr, Diagnostic>>,
    pub(crate) templates: Memo<String, Analysis>,
    /// What the last compilation reused and computed.
    pub stats: Stats,
}

/// Hits and misses of one compilation, by kind of work (for tests and
/// benchmarks: what an edit re-did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub files_reused: usize,
    pub files_loaded: usize,
    pub conditions_reused: usize,
    pub conditions_parsed: usize,
    pub templates_reused: usize,
    pub templates_analysed: usize,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// A cache that keeps nothing: every piece of work is done.
    pub fn off() -> Cache {
        Cache {
            off: true,
            ..Cache::default()
        }
    }

    /// Whether work is kept for the next compilation.
    pub(crate) fn keeps(&self) -> bool {
        !self.off
    }

    /// Called at the start of a compilation: what the previous one did not
    /// use goes, what it used may be reused.
    pub(crate) fn start(&mut self) {
        self.files.rotate();
        self.conditions.rotate();
        self.templates.rotate();
        self.stats = Stats::default();
    }
}

pub(crate) struct FileEntry {
    pub kind: SourceKind,
    pub text: String,
    pub budgets: Budgets,
    pub load: FileLoad,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConditionKey {
    pub file: FileId,
    pub start: u32,
    /// The text of the scalar in the file (quotes, escapes, block).
    pub raw: String,
    pub value: String,
}

/// Two generations of entries: those used by the running compilation, and
/// those of the previous one not (yet) used by it.
pub(crate) struct Memo<K, V> {
    now: HashMap<K, V>,
    before: HashMap<K, V>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            now: HashMap::new(),
            before: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Memo<K, V> {
    fn rotate(&mut self) {
        self.before = std::mem::take(&mut self.now);
    }

    /// The entry of `key`, kept for the next compilation.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        if !self.now.contains_key(key)
            && let Some(v) = self.before.remove(key)
        {
            self.now.insert(key.clone(), v);
        }
        self.now.get(key)
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.now.insert(key, value);
    }
}
