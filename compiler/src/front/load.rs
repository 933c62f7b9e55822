//! Stage 1: source texts → [`Documents`] (typed, spanned, unresolved).
//! Every file is read; every problem becomes a diagnostic; nothing stops early.

use crate::ast::{self, Decl, Documents};
use crate::config::{self, Config};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceKind, SourceSet, Span};
use crate::suggest;
use crate::yaml::{self, Budgets, DeError, DeErrorKind, Node, NodeKind, Sp};
use serde::Deserialize;

/// Words of the expression language that cannot be used as names.
pub const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "is", "set", "within", "true", "false", "contact", "event",
];

pub struct Loaded {
    pub config: Option<Config>,
    pub docs: Documents,
}

pub fn load(sources: &SourceSet, budgets: &Budgets, diags: &mut Vec<Diagnostic>) -> Loaded {
    let mut docs = Documents::default();
    let mut config = None;
    let mut saw_config = false;
    let mut yaml_files = 0;
    for (id, file) in sources.iter() {
        match file.kind {
            SourceKind::Config => {
                saw_config = true;
                config = config::load(id, file, diags);
            }
            SourceKind::Yaml | SourceKind::Test => {
                let tests = file.kind == SourceKind::Test;
                if !tests {
                    yaml_files += 1;
                }
                match yaml::parse_document(id, file, budgets) {
                    Ok(root) => {
                        let mut l = FileLoader {
                            id,
                            text: &file.text,
                            docs: &mut docs,
                            diags,
                            tests,
                        };
                        l.root(&root);
                    }
                    Err(d) => diags.push(d),
                }
            }
            SourceKind::Rejected
                if (file.path.ends_with(".yaml") || file.path.ends_with(".yml"))
                    && !file.path.starts_with("tests/") =>
            {
                yaml_files += 1
            }
            SourceKind::Template | SourceKind::Rejected => {}
        }
    }
    if !saw_config {
        diags.push(
            Diagnostic::new(
                Code::ConfigMissing,
                format!("no `{}` in the plan directory", config::CONFIG_FILE),
            )
            .help("Create it with `herald init .`, or run `herald check` on the directory that holds it."),
        );
    }
    if yaml_files == 0 {
        diags.push(
            Diagnostic::new(Code::SchemaEmptyPlan, "the plan has no YAML files")
                .help("Add `.yaml` files with `contact`, `segments`, `messages`... sections, or start from `herald init DIR`."),
        );
    }
    Loaded { config, docs }
}

struct FileLoader<'a> {
    id: FileId,
    text: &'a str,
    docs: &'a mut Documents,
    diags: &'a mut Vec<Diagnostic>,
    /// A test file: it holds `tests:` only.
    tests: bool,
}

impl<'a> FileLoader<'a> {
    fn span(&self, n: &Node) -> Span {
        Span {
            file: self.id,
            start: n.start,
            end: n.end,
        }
    }

    fn root(&mut self, root: &Node) {
        let entries = match &root.kind {
            NodeKind::Null => return,
            NodeKind::Map(entries) => entries,
            other => {
                self.diags.push(
                    Diagnostic::new(
                        Code::SchemaInvalidValue,
                        format!("a plan file is a mapping of sections, found {}", other.describe()),
                    )
                    .at(self.span(root), "expected `section:` keys here")
                    .help(format!(
                        "Start the file with one of the sections: {}.",
                        list(ast::SECTIONS)
                    )),
                );
                return;
            }
        };
        for (key, value) in entries {
            let Some(name) = self.key(key, "section") else { continue };
            let key_span = self.span(key);
            if self.tests {
                if name == ast::TEST_SECTION {
                    self.named(value, "test", |d| &mut d.tests);
                } else {
                    let plan_section = ast::SECTIONS.contains(&name);
                    self.diags.push(
                        Diagnostic::new(Code::SchemaUnknownKey, format!("`{name}` in a test file"))
                            .at(key_span, "a test file holds `tests:` only")
                            .help(if plan_section {
                                format!("Files under `tests/` hold journey tests; move `{name}:` to a plan file outside `tests/`.")
                            } else {
                                "Write the journey tests under `tests:`.".to_string()
                            }),
                    );
                }
                continue;
            }
            match name {
                "contact" => self.contact(key_span, value),
                "policies" => self.policies(key_span, value),
                "segments" => self.named(value, "segment", |d| &mut d.segments),
                "messages" => self.named(value, "message", |d| &mut d.messages),
                "programs" => self.named(value, "program", |d| &mut d.programs),
                "campaigns" => self.named(value, "campaign", |d| &mut d.campaigns),
                "scenarios" => self.named(value, "scenario", |d| &mut d.scenarios),
                ast::TEST_SECTION => self.diags.push(
                    Diagnostic::new(Code::SchemaUnknownKey, "`tests` in a plan file")
                        .at(key_span, "journey tests live in their own files")
                        .help("Move this section to a file under `tests/` in the plan directory (such as `tests/cart.yaml`); `herald test` runs it."),
                ),
                other => self.diags.push(
                    Diagnostic::new(Code::SchemaUnknownKey, format!("unknown section `{other}`"))
                        .at(key_span, "not a plan section")
                        .maybe_help(suggest::help_for(other, ast::SECTIONS.iter().copied(), "the sections")),
                ),
            }
        }
    }

    /// A mapping key as text, or a diagnostic.
    fn key<'n>(&mut self, key: &'n Node, what: &str) -> Option<&'n str>
    where
        'a: 'n,
    {
        match &key.kind {
            NodeKind::Str(s) => Some(s),
            // YAML 1.1 reads `n:`, `no:`, `on:` or `2026:` as booleans and
            // numbers; as names they mean what is written.
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                self.text.get(key.start as usize..key.end as usize)
            }
            other => {
                self.diags.push(
                    Diagnostic::new(
                        Code::SchemaInvalidValue,
                        format!("a {what} name must be text, found {}", other.describe()),
                    )
                    .at(self.span(key), "expected a name")
                    .help("Write the name as a word, such as `welcome_email`."),
                );
                None
            }
        }
    }

    fn contact(&mut self, key_span: Span, value: &Node) {
        if self.docs.contact.is_none() {
            self.docs.contact = Some(key_span);
        }
        let entries = match &value.kind {
            NodeKind::Null => return,
            NodeKind::Map(e) => e,
            other => {
                self.diags.push(expected_mapping(self.span(value), other, "`contact`"));
                return;
            }
        };
        for (k, v) in entries {
            let Some(name) = self.key(k, "key") else { continue };
            match name {
                "fields" => self.named(v, "field", |d| &mut d.fields),
                "consents" => self.named(v, "consent", |d| &mut d.consents),
                "events" => self.named(v, "event", |d| &mut d.events),
                other => self.diags.push(
                    Diagnostic::new(Code::SchemaUnknownKey, format!("unknown key `{other}` in `contact`"))
                        .at(self.span(k), "not a key of `contact`")
                        .maybe_help(suggest::help_for(
                            other,
                            ast::CONTACT_KEYS.iter().copied(),
                            "the keys of `contact`",
                        )),
                ),
            }
        }
    }

    fn policies(&mut self, key_span: Span, value: &Node) {
        if let Some(first) = &self.docs.policies {
            self.diags.push(
                Diagnostic::new(Code::ReferenceDuplicate, "`policies` is defined twice")
                    .at(key_span, "defined again here")
                    .related(first.span, "first defined here")
                    .help("Keep one `policies:` section and merge the two into it."),
            );
            return;
        }
        let (r, recorded) = yaml::from_node::<ast::PoliciesDoc>(value, self.id, self.text, Some(key_span));
        for e in recorded {
            self.diags.push(de_diagnostic(e, "`policies`", key_span));
        }
        match r {
            Ok(doc) => self.docs.policies = Some(Sp::new(doc, key_span)),
            Err(e) => self.diags.push(de_diagnostic(e, "`policies`", key_span)),
        }
    }

    /// A mapping of `name: declaration`.
    fn named<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: &Node,
        what: &str,
        target: impl Fn(&mut Documents) -> &mut Vec<Decl<T>>,
    ) {
        let entries = match &value.kind {
            NodeKind::Null => return,
            NodeKind::Map(e) => e,
            other => {
                self.diags
                    .push(expected_mapping(self.span(value), other, &format!("the {what}s")));
                return;
            }
        };
        for (k, v) in entries {
            let Some(name) = self.key(k, what) else { continue };
            let name_span = self.span(k);
            if let Some(d) = check_name(name, name_span, what) {
                self.diags.push(d);
                continue;
            }
            let (r, recorded) = yaml::from_node::<T>(v, self.id, self.text, Some(name_span));
            for e in recorded {
                self.diags
                    .push(de_diagnostic(e, &format!("{what} `{name}`"), name_span));
            }
            match r {
                Ok(doc) => target(self.docs).push(Decl {
                    name: Sp::new(name.to_string(), name_span),
                    doc,
                }),
                Err(e) => self
                    .diags
                    .push(de_diagnostic(e, &format!("{what} `{name}`"), name_span)),
            }
        }
    }
}

fn list(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

fn expected_mapping(span: Span, found: &NodeKind, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::SchemaInvalidValue,
        format!("{what} must be a mapping of names, found {}", found.describe()),
    )
    .at(span, "expected `name:` entries")
    .help("Indent one `name:` entry per item under the section key.")
}

/// Names are identifiers of the expression language.
pub fn check_name(name: &str, span: Span, what: &str) -> Option<Diagnostic> {
    let mut chars = name.chars();
    let ok_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_start || !ok_rest {
        let suggestion: String = name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        return Some(
            Diagnostic::new(Code::SchemaInvalidName, format!("`{name}` is not a valid {what} name"))
                .at(span, "names are letters, digits and `_`, starting with a letter")
                .help(format!("Rename it, for example to `{}`.", suggestion.trim_matches('_'))),
        );
    }
    if RESERVED.contains(&name) {
        return Some(
            Diagnostic::new(
                Code::SchemaInvalidName,
                format!("`{name}` is a word of the expression language"),
            )
            .at(span, "reserved word")
            .help(format!("Rename it, for example to `{name}_{what}`.")),
        );
    }
    None
}

/// A deserialization error as a diagnostic. `what` names the declaration ("message `x`").
pub fn de_diagnostic(e: DeError, what: &str, fallback: Span) -> Diagnostic {
    let span = e.span.unwrap_or(fallback);
    let d = match &e.kind {
        DeErrorKind::UnknownKey { key, .. } => {
            Diagnostic::new(Code::SchemaUnknownKey, format!("unknown key `{key}` in {what}")).at(span, "unknown key")
        }
        DeErrorKind::MissingKey { key } => Diagnostic::new(Code::SchemaMissingKey, format!("{what} lacks `{key}`"))
            .at(span, format!("`{key}` is required here")),
        DeErrorKind::DuplicateKey { key } => {
            Diagnostic::new(Code::SchemaDuplicateKey, format!("`{key}` is written twice in {what}"))
                .at(span, "second occurrence")
        }
        DeErrorKind::Invalid => {
            let (label, help) = split_fix(&e.message);
            return Diagnostic::new(Code::SchemaInvalidValue, format!("invalid value in {what}"))
                .at(span, label)
                .maybe_help(e.help.or(help));
        }
    };
    d.maybe_help(e.help)
}

/// "`2x` is not a duration: write …" → ("`2x` is not a duration", "Write …");
/// "expected a list, found text" → (same, "Replace it with a list.").
fn split_fix(message: &str) -> (String, Option<String>) {
    for marker in [": write ", ": use ", ": split ", ": put "] {
        if let Some(i) = message.find(marker) {
            let fix = &message[i + 2..];
            let mut c = fix.chars();
            let fix = c
                .next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default();
            return (
                message[..i].to_string(),
                Some(format!("{}.", fix.trim_end_matches('.'))),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("expected ")
        && let Some((expected, _)) = rest.split_once(", found")
    {
        return (message.to_string(), Some(format!("Replace it with {expected}.")));
    }
    (message.to_string(), None)
}
