//! Stage 1: source texts → [`Documents`] (typed, spanned, unresolved).
//! Every file is read; every problem becomes a diagnostic; nothing stops early.

use crate::ast::{self, Decl, Documents, PoliciesDoc};
use crate::cache::{Cache, FileEntry};
use crate::config::{self, Config};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceKind, SourceSet, Span};
use crate::suggest;
use crate::yaml::{self, Budgets, DeError, DeErrorKind, Node, NodeKind, Sp};
use serde::Deserialize;

/// Words of the expression language that cannot be used as names.
pub const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "is", "set", "within", "true", "false", "contact", "event", "now",
];

pub struct Loaded {
    pub config: Option<Config>,
    pub docs: Documents,
}

pub fn load(sources: &SourceSet, budgets: &Budgets, diags: &mut Vec<Diagnostic>) -> Loaded {
    load_with(sources, budgets, diags, &mut Cache::off())
}

/// What one YAML file loads to, on its own: what `load` merges in file
/// order, and what a [`Cache`] keeps of an unchanged file.
#[derive(Clone, Debug, Default)]
pub struct FileLoad {
    /// Its declarations (`policies` is in `policies`).
    docs: Documents,
    /// Its own diagnostics, but those of `policies`.
    diags: Vec<Diagnostic>,
    /// Each `policies:` section of the file, in order: whether it is a
    /// duplicate depends on the files before it.
    policies: Vec<PoliciesLoad>,
}

#[derive(Clone, Debug)]
struct PoliciesLoad {
    key_span: Span,
    doc: Option<PoliciesDoc>,
    diags: Vec<Diagnostic>,
}

/// [`load`], reusing the loads of the files `cache` has seen with the same
/// text (see [`crate::cache`]).
pub fn load_with(sources: &SourceSet, budgets: &Budgets, diags: &mut Vec<Diagnostic>, cache: &mut Cache) -> Loaded {
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
                if file.kind != SourceKind::Test {
                    yaml_files += 1;
                }
                let key = (id, file.path.clone());
                let reused = cache
                    .keeps()
                    .then(|| cache.files.get(&key))
                    .flatten()
                    .filter(|e| e.kind == file.kind && e.budgets == *budgets && e.text == file.text)
                    .map(|e| e.load.clone());
                let load = match reused {
                    Some(l) => {
                        cache.stats.files_reused += 1;
                        l
                    }
                    None => {
                        cache.stats.files_loaded += 1;
                        let l = load_file(id, file, budgets);
                        if cache.keeps() {
                            let entry = FileEntry {
                                kind: file.kind,
                                text: file.text.clone(),
                                budgets: *budgets,
                                load: l.clone(),
                            };
                            cache.files.insert(key, entry);
                        }
                        l
                    }
                };
                merge(&mut docs, diags, load);
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

/// One YAML or test file, on its own.
fn load_file(id: FileId, file: &crate::source::SourceFile, budgets: &Budgets) -> FileLoad {
    let mut out = FileLoad::default();
    match yaml::parse_document(id, file, budgets) {
        Err(d) => {
            // Its names are known but broken: their uses are not
            // "unknown", nor what they use "unused".
            salvage(id, &file.text, &mut out.docs);
            out.diags.push(d);
        }
        Ok(root) => {
            let mut l = FileLoader {
                id,
                text: &file.text,
                docs: &mut out.docs,
                diags: &mut out.diags,
                policies: &mut out.policies,
                tests: file.kind == SourceKind::Test,
            };
            l.root(&root);
        }
    }
    out
}

/// Add a file's load to what the files before it loaded.
fn merge(docs: &mut Documents, diags: &mut Vec<Diagnostic>, l: FileLoad) {
    let FileLoad {
        docs: mut d,
        diags: mut own,
        policies,
    } = l;
    if docs.contact.is_none() {
        docs.contact = d.contact;
    }
    docs.fields.append(&mut d.fields);
    docs.consents.append(&mut d.consents);
    docs.events.append(&mut d.events);
    docs.segments.append(&mut d.segments);
    docs.messages.append(&mut d.messages);
    docs.programs.append(&mut d.programs);
    docs.campaigns.append(&mut d.campaigns);
    docs.scenarios.append(&mut d.scenarios);
    docs.tests.append(&mut d.tests);
    docs.broken.append(&mut d.broken);
    docs.mentions.append(&mut d.mentions);
    diags.append(&mut own);
    for p in policies {
        // The first `policies` that loads is the plan's; any after it is a
        // duplicate (and is not read further).
        if let Some(first) = &docs.policies {
            diags.push(
                Diagnostic::new(Code::ReferenceDuplicate, "`policies` is defined twice")
                    .at(p.key_span, "defined again here")
                    .related(first.span, "first defined here")
                    .help("Keep one `policies:` section and merge the two into it."),
            );
            continue;
        }
        diags.extend(p.diags);
        if let Some(doc) = p.doc {
            docs.policies = Some(Sp::new(doc, p.key_span));
        }
    }
}

struct FileLoader<'a> {
    id: FileId,
    text: &'a str,
    docs: &'a mut Documents,
    diags: &'a mut Vec<Diagnostic>,
    policies: &'a mut Vec<PoliciesLoad>,
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
                    self.named(value, "tests", "test", |d| &mut d.tests);
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
                "segments" => self.named(value, "segments", "segment", |d| &mut d.segments),
                "messages" => self.named(value, "messages", "message", |d| &mut d.messages),
                "programs" => self.named(value, "programs", "program", |d| &mut d.programs),
                "campaigns" => self.named(value, "campaigns", "campaign", |d| &mut d.campaigns),
                "scenarios" => self.named(value, "scenarios", "scenario", |d| &mut d.scenarios),
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
                "fields" => self.named(v, "fields", "field", |d| &mut d.fields),
                "consents" => self.named(v, "consents", "consent", |d| &mut d.consents),
                "events" => self.named(v, "events", "event", |d| &mut d.events),
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
        let (r, recorded) = yaml::from_node::<ast::PoliciesDoc>(value, self.id, self.text, Some(key_span));
        let mut diags: Vec<Diagnostic> = recorded
            .into_iter()
            .map(|e| de_diagnostic(e, "`policies`", key_span))
            .collect();
        let doc = match r {
            Ok(doc) => Some(doc),
            Err(e) => {
                diags.push(de_diagnostic(e, "`policies`", key_span));
                None
            }
        };
        self.policies.push(PoliciesLoad { key_span, doc, diags });
    }

    /// A mapping of `name: declaration`.
    fn named<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: &Node,
        section: &'static str,
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
            if !recorded.is_empty() || r.is_err() {
                // What failed to load may use any name written there.
                let text = self.text.get(v.start as usize..v.end as usize).unwrap_or("");
                ast::words(text, &mut self.docs.mentions);
            }
            for e in recorded {
                self.diags
                    .push(de_diagnostic(e, &format!("{what} `{name}`"), name_span));
            }
            match r {
                Ok(doc) => target(self.docs).push(Decl {
                    name: Sp::new(name.to_string(), name_span),
                    doc,
                }),
                Err(e) => {
                    self.docs.broken.push(ast::BrokenDecl {
                        section,
                        name: Sp::new(name.to_string(), name_span),
                    });
                    self.diags
                        .push(de_diagnostic(e, &format!("{what} `{name}`"), name_span))
                }
            }
        }
    }
}

/// The names declared in a YAML file that does not parse, read from its
/// indentation (`section:` at the margin, `name:` one level in; `fields`,
/// `consents` and `events` one level further under `contact`), and every
/// word of it as mentions.
fn salvage(id: FileId, text: &str, docs: &mut Documents) {
    ast::words(text, &mut docs.mentions);
    let mut section: Option<&'static str> = None;
    let mut sub: Option<&'static str> = None;
    let mut name_indent: Option<usize> = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end();
        let content = body.trim_start();
        if content.is_empty() || content.starts_with('#') || content.starts_with('-') {
            continue;
        }
        let indent = body.len() - content.len();
        let Some((key, _)) = content.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if indent == 0 {
            section = ast::SECTIONS.iter().copied().find(|s| *s == key);
            sub = None;
            name_indent = None;
            continue;
        }
        let Some(sec) = section else { continue };
        if sec == "contact" {
            // `contact:` → `fields:` → names.
            if sub.is_none() || name_indent.is_some_and(|n| indent < n) {
                sub = ast::CONTACT_KEYS.iter().copied().find(|s| *s == key);
                name_indent = None;
                continue;
            }
        } else if sec == "policies" {
            continue;
        }
        let target = if sec == "contact" { sub.unwrap_or("fields") } else { sec };
        let level = *name_indent.get_or_insert(indent);
        if indent != level || check_name(key, Span::default(), "name").is_some() {
            continue;
        }
        let s = start + indent;
        docs.broken.push(ast::BrokenDecl {
            section: target,
            name: Sp::new(key.to_string(), Span::new(id, s, s + key.len())),
        });
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
