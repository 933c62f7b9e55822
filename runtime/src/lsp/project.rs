//! One plan directory as the editor sees it: the files on disk with the
//! unsaved buffers laid over them, compiled as a whole.

use crate::loader::{self, Limits};
use herald_compiler::diagnostic::{self, Diagnostic};
use herald_compiler::source::{SourceFile, SourceSet};
use herald_compiler::{Compilation, FileId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Project {
    pub root: PathBuf,
    /// Open buffers by path relative to the root (`/`-separated).
    pub overlays: BTreeMap<String, String>,
    pub compiled: Option<Compiled>,
    /// The overlays changed since the last compilation.
    pub dirty: bool,
    /// Compilations made, and the one whose diagnostics the editor has (a
    /// request may compile before the diagnostics are published).
    pub compiled_generation: u64,
    pub published_generation: u64,
    /// What was last published per file URI (to send only changes, and to
    /// clear a file whose problems are fixed).
    pub published: BTreeMap<String, Vec<lsp_types::Diagnostic>>,
    /// The compiler's work on files and declarations unchanged since the
    /// last compilation (so an edit re-does its file's work and the
    /// whole-plan checks, not every file's).
    cache: herald_compiler::Cache,
}

pub struct Compiled {
    pub sources: SourceSet,
    pub compilation: Compilation,
}

impl Project {
    pub fn new(root: PathBuf) -> Project {
        Project {
            root,
            overlays: BTreeMap::new(),
            compiled: None,
            dirty: true,
            compiled_generation: 0,
            published_generation: 0,
            published: BTreeMap::new(),
            cache: herald_compiler::Cache::new(),
        }
    }

    /// The path of `file` relative to the root, if it is inside.
    /// Diagnostics the editor does not have yet.
    pub fn unpublished(&self) -> bool {
        self.dirty || self.compiled_generation != self.published_generation
    }

    pub fn relative(&self, file: &Path) -> Option<String> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
        Some(parts.join("/"))
    }

    /// Compile the plan if anything changed. `Err`: the directory itself
    /// cannot be read (deleted, not accessible).
    pub fn refresh(&mut self) -> Result<&Compiled, String> {
        if self.dirty || self.compiled.is_none() {
            self.compiled = Some(self.compile()?);
            self.dirty = false;
            self.compiled_generation += 1;
        }
        self.compiled.as_ref().ok_or_else(|| "nothing compiled".to_string())
    }

    fn compile(&mut self) -> Result<Compiled, String> {
        let loaded = loader::load_plan_dir(&self.root, &Limits::default()).map_err(|e| e.to_string())?;
        let mut sources = SourceSet::new();
        let mut overlaid: Vec<FileId> = Vec::new();
        // Same order as on disk, so the loader's diagnostics keep their file ids.
        for (id, file) in loaded.sources.iter() {
            match self.overlays.get(&file.path) {
                Some(text) => {
                    let kind = herald_compiler::SourceKind::of_path(&file.path).unwrap_or(file.kind);
                    sources.add(SourceFile::new(file.path.clone(), kind, text.clone()));
                    overlaid.push(id);
                }
                None => {
                    sources.add(file.clone());
                }
            }
        }
        // Buffers not saved yet.
        for (rel, text) in &self.overlays {
            if sources.find(rel).is_none()
                && let Some(kind) = herald_compiler::SourceKind::of_path(rel)
            {
                sources.add(SourceFile::new(rel.clone(), kind, text.clone()));
            }
        }
        let now = crate::clock::now()?;
        let mut compilation = herald_compiler::compile_with(&sources, now, &Default::default(), &mut self.cache);
        let file_problems = loaded
            .diagnostics
            .into_iter()
            .filter(|d| d.primary.as_ref().is_none_or(|l| !overlaid.contains(&l.span.file)));
        compilation.diagnostics.extend(file_problems);
        diagnostic::sort(&mut compilation.diagnostics, &sources);
        Ok(Compiled { sources, compilation })
    }
}

impl Compiled {
    pub fn file(&self, rel: &str) -> Option<(FileId, &SourceFile)> {
        let id = self.sources.find(rel)?;
        Some((id, self.sources.get(id)?))
    }

    /// Diagnostics grouped by the file of their primary span (whole-plan
    /// problems go to herald.toml).
    pub fn by_file(&self) -> BTreeMap<String, Vec<&Diagnostic>> {
        let mut out: BTreeMap<String, Vec<&Diagnostic>> = BTreeMap::new();
        for (_, f) in self.sources.iter() {
            out.entry(f.path.clone()).or_default();
        }
        for d in &self.compilation.diagnostics {
            let path = match &d.primary {
                Some(l) => self.sources.path(l.span.file).to_string(),
                None => herald_compiler::config::CONFIG_FILE.to_string(),
            };
            out.entry(path).or_default().push(d);
        }
        out
    }
}
