//! Source files, byte spans and line/column conversion.
//!
//! Inside the compiler every position is a byte range into one file (`Span`);
//! conversion to 1-based line/column (Unicode characters, for people and JSON)
//! or to UTF-16 columns (for the LSP) happens here and nowhere else.

use std::path::{Component, Path};

/// Index of a file in a [`SourceSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range `[start, end)` in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let start = clamp_u32(start);
        Span {
            file,
            start,
            end: clamp_u32(end).max(start),
        }
    }

    /// A span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What a file is for: plan YAML, the project configuration, or a template body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Config,
    Yaml,
    /// A YAML file of journey tests (`tests/*.yaml` in the plan directory):
    /// holds `tests:`, never plan sections.
    Test,
    Template,
    /// A file the runtime could not accept (binary, not UTF-8, too large); kept
    /// so diagnostics can name it, never compiled.
    Rejected,
}

/// File extensions a `body:` may point to.
pub const TEMPLATE_EXTENSIONS: &[&str] = &["mjml", "html", "htm", "txt"];

impl SourceKind {
    /// What a file of the plan directory is, from its path relative to it
    /// (`/`-separated); `None`: not a file of the plan.
    pub fn of_path(rel: &str) -> Option<SourceKind> {
        if rel == crate::config::CONFIG_FILE {
            return Some(SourceKind::Config);
        }
        let ext = rel.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            // Journey tests: the YAML files under `tests/` of the plan directory.
            "yaml" | "yml" if rel.starts_with("tests/") => Some(SourceKind::Test),
            "yaml" | "yml" => Some(SourceKind::Yaml),
            e if TEMPLATE_EXTENSIONS.contains(&e) => Some(SourceKind::Template),
            _ => None,
        }
    }
}

/// One source text with its path relative to the plan directory (`/`-separated).
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub kind: SourceKind,
    pub text: String,
    line_starts: Vec<u32>,
    /// Byte ranges of credential values (herald.toml): never shown.
    secrets: Vec<std::ops::Range<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, kind: SourceKind, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(clamp_u32(i + 1));
            }
        }
        let secrets = match kind {
            SourceKind::Config => crate::secrets::credentials(&text)
                .into_iter()
                .map(|c| c.value)
                .collect(),
            _ => Vec::new(),
        };
        SourceFile {
            path: path.into(),
            kind,
            text,
            line_starts,
            secrets,
        }
    }

    /// Byte ranges of the secrets in this file (credential values).
    pub fn secrets(&self) -> &[std::ops::Range<usize>] {
        &self.secrets
    }

    /// The text as it may be shown: secrets masked, offsets unchanged.
    pub fn display_text(&self) -> std::borrow::Cow<'_, str> {
        if self.secrets.is_empty() {
            std::borrow::Cow::Borrowed(&self.text)
        } else {
            std::borrow::Cow::Owned(crate::secrets::mask(&self.text, &self.secrets))
        }
    }

    /// Whether `span` touches a secret of this file.
    pub fn is_secret(&self, span: Span) -> bool {
        let (s, e) = (span.start as usize, span.end as usize);
        self.secrets.iter().any(|r| s < r.end && r.start < e.max(s + 1))
    }

    /// The text of `span`, or "" when the span does not fall on char boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start as usize..span.end as usize).unwrap_or("")
    }

    /// Clamp `offset` into the text and back to the previous char boundary.
    fn floor_boundary(&self, offset: u32) -> usize {
        let mut o = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// 0-based line index and the byte offset where that line starts.
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&clamp_u32(offset)) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0) as usize;
        (line, start)
    }

    /// 1-based line and 1-based column counted in Unicode characters.
    pub fn line_col(&self, offset: u32) -> LineCol {
        let o = self.floor_boundary(offset);
        let (line, start) = self.line_of(o);
        let column = self.text.get(start..o).map_or(0, |s| s.chars().count());
        LineCol {
            line: line + 1,
            column: column + 1,
        }
    }

    /// 0-based line and 0-based UTF-16 column, as the LSP counts.
    pub fn lsp_position(&self, offset: u32) -> (u32, u32) {
        let o = self.floor_boundary(offset);
        let (line, start) = self.line_of(o);
        let col: usize = self
            .text
            .get(start..o)
            .map_or(0, |s| s.chars().map(char::len_utf16).sum());
        (clamp_u32(line), clamp_u32(col))
    }

    /// Byte offset of a 0-based line and 0-based UTF-16 column, as the LSP
    /// counts (clamped to the line, and to a char boundary).
    pub fn offset_of_lsp(&self, line: u32, character: u32) -> usize {
        let Some(&start) = self.line_starts.get(line as usize) else {
            return self.text.len();
        };
        let rest = self.text.get(start as usize..).unwrap_or("");
        let mut offset = start as usize;
        let mut units = 0u32;
        for c in rest.chars() {
            if units >= character || c == '\n' {
                break;
            }
            units += c.len_utf16() as u32;
            offset += c.len_utf8();
        }
        offset
    }

    /// Byte offset of a 1-based line and 1-based character column (clamped).
    pub fn offset_of(&self, line: usize, column: usize) -> u32 {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return clamp_u32(self.text.len());
        };
        let rest = self.text.get(start as usize..).unwrap_or("");
        let mut offset = start as usize;
        for (i, c) in rest.chars().enumerate() {
            if i + 1 >= column || c == '\n' {
                break;
            }
            offset += c.len_utf8();
        }
        clamp_u32(offset)
    }

    /// Byte offset where a 0-based line starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).map_or(self.text.len(), |&o| o as usize)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// All the texts of one plan. The runtime (or the LSP, with unsaved buffers)
/// fills it; the compiler only reads it.
#[derive(Clone, Debug, Default)]
pub struct SourceSet {
    files: Vec<SourceFile>,
}

impl SourceSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(clamp_u32(self.files.len()));
        self.files.push(file);
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.path.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(clamp_u32(i)), f))
    }

    pub fn find(&self, path: &str) -> Option<FileId> {
        self.iter().find(|(_, f)| f.path == path).map(|(id, _)| id)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Normalise a relative `/`-separated path; `None` when it is absolute or
/// climbs out of the plan directory.
pub fn normalize_relative(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsp_positions_round_trip_through_utf16() {
        let f = SourceFile::new("a.yaml", SourceKind::Yaml, "a: é😀x\nb: 1\n");
        for offset in [0usize, 3, 5, 9, 10, 11, 14] {
            let (line, col) = f.lsp_position(offset as u32);
            assert_eq!(f.offset_of_lsp(line, col), offset, "offset {offset}");
        }
        // 😀 is two UTF-16 units: column 6 is after it.
        assert_eq!(f.offset_of_lsp(0, 6), 9);
        // Past the end of a line: the end of that line.
        assert_eq!(f.offset_of_lsp(0, 99), 10);
        assert_eq!(f.offset_of_lsp(9, 0), f.text.len());
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("a.yaml", SourceKind::Yaml, "ab\néé x\n");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(3), LineCol { line: 2, column: 1 });
        // 'x' is after two 2-byte characters and a space.
        let x = f.text.find('x').unwrap() as u32;
        assert_eq!(f.line_col(x), LineCol { line: 2, column: 4 });
        assert_eq!(f.offset_of(2, 4), x);
    }

    #[test]
    fn lsp_position_counts_utf16_units() {
        let f = SourceFile::new("a.yaml", SourceKind::Yaml, "😀x");
        assert_eq!(f.lsp_position(4), (0, 2));
    }

    #[test]
    fn offsets_inside_a_char_are_floored() {
        let f = SourceFile::new("a.yaml", SourceKind::Yaml, "é");
        assert_eq!(f.line_col(1), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(99), LineCol { line: 1, column: 2 });
    }

    #[test]
    fn relative_paths_cannot_escape() {
        assert_eq!(normalize_relative("./a/../b.mjml").as_deref(), Some("b.mjml"));
        assert_eq!(normalize_relative("../x"), None);
        assert_eq!(normalize_relative("/etc/passwd"), None);
    }
}
