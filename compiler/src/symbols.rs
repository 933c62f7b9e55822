//! The names a plan declares and where: what an editor needs for hover,
//! go to definition and completion. Built from the documents as written, so
//! a declaration with an error elsewhere is still found.

use crate::ast::{Decl, Documents};
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SymbolKind {
    Field,
    Consent,
    Event,
    Segment,
    Message,
    Program,
    Campaign,
    Scenario,
}

impl SymbolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Field => "field",
            SymbolKind::Consent => "consent",
            SymbolKind::Event => "event",
            SymbolKind::Segment => "segment",
            SymbolKind::Message => "message",
            SymbolKind::Program => "program",
            SymbolKind::Campaign => "campaign",
            SymbolKind::Scenario => "scenario",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    /// The name where it is declared.
    pub span: Span,
}

/// Every declaration (the first one of a name, if it is defined twice).
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    pub all: Vec<Symbol>,
}

impl Symbols {
    pub fn from_documents(docs: &Documents) -> Symbols {
        let mut all = Vec::new();
        fn add<T>(all: &mut Vec<Symbol>, kind: SymbolKind, decls: &[Decl<T>]) {
            // The first declaration of each name (a set: plans have thousands).
            let mut seen = std::collections::BTreeSet::new();
            for d in decls {
                if seen.insert(d.name.value.as_str()) {
                    all.push(Symbol {
                        kind,
                        name: d.name.value.clone(),
                        span: d.name.span,
                    });
                }
            }
        }
        add(&mut all, SymbolKind::Field, &docs.fields);
        add(&mut all, SymbolKind::Consent, &docs.consents);
        add(&mut all, SymbolKind::Event, &docs.events);
        add(&mut all, SymbolKind::Segment, &docs.segments);
        add(&mut all, SymbolKind::Message, &docs.messages);
        add(&mut all, SymbolKind::Program, &docs.programs);
        add(&mut all, SymbolKind::Campaign, &docs.campaigns);
        add(&mut all, SymbolKind::Scenario, &docs.scenarios);
        Symbols { all }
    }

    pub fn of_kind(&self, kind: SymbolKind) -> impl Iterator<Item = &Symbol> {
        self.all.iter().filter(move |s| s.kind == kind)
    }

    pub fn find(&self, kind: SymbolKind, name: &str) -> Option<&Symbol> {
        self.all.iter().find(|s| s.kind == kind && s.name == name)
    }
}

/// Markdown describing a declared name, for an editor's hover: what it is,
/// its definition, and for SMS messages the worst-case encoding and length.
pub fn describe(plan: &crate::model::Plan, kind: SymbolKind, name: &str) -> Option<String> {
    use crate::model::{FieldType, MessageContent};
    let mut out = format!("**{}** `{name}`", kind.as_str());
    let mut para = |s: String| {
        out.push_str("\n\n");
        out.push_str(&s);
    };
    match kind {
        SymbolKind::Field => {
            let f = plan.contact.fields.get(name)?;
            let ty = match &f.ty {
                FieldType::Enum { values } => format!(
                    "one of {}",
                    values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                ),
                other => other.describe(),
            };
            let mut line = format!("Contact field: {ty}{}", if f.optional { ", optional" } else { "" });
            if let Some(n) = f.max_length {
                line.push_str(&format!(", at most {n} characters"));
            }
            para(line);
            if let Some(d) = &f.description {
                para(d.clone());
            }
        }
        SymbolKind::Consent => {
            let c = plan.contact.consents.get(name)?;
            let topics = if c.topics.is_empty() {
                "every topic".to_string()
            } else {
                format!(
                    "the topics {}",
                    c.topics.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                )
            };
            para(format!(
                "Consent on the {} channel{}, for {topics}. Marketing sends on {} need an audience that implies a consent covering their topic, such as `consent({name})`.",
                c.channel,
                if c.double_opt_in { " (double opt-in)" } else { "" },
                c.channel
            ));
        }
        SymbolKind::Event => {
            let e = plan.contact.events.get(name)?;
            let props: Vec<String> = e
                .properties
                .iter()
                .map(|(p, t)| format!("`event.{p}` ({t:?})"))
                .collect();
            para(if props.is_empty() {
                "Contact event without properties.".to_string()
            } else {
                format!("Contact event with {}", props.join(", ").to_lowercase())
            });
        }
        SymbolKind::Segment => {
            let s = plan.segments.get(name)?;
            para(format!("```herald\n{}\n```", s.condition));
            if let Some(d) = &s.description {
                para(d.clone());
            }
        }
        SymbolKind::Message => {
            let m = plan.messages.get(name)?;
            para(format!("{} message, {}", m.channel(), m.purpose));
            match &m.content {
                MessageContent::Email { subject, .. } => para(format!("Subject: {}", subject.source.trim())),
                MessageContent::Sms {
                    text, transliterate, ..
                } => {
                    para(format!("```jinja\n{}\n```", text.source.trim()));
                    para(sms_summary(plan, text, *transliterate));
                }
                MessageContent::Push { title, .. } => para(format!("Title: {}", title.source.trim())),
                MessageContent::Call { .. } => {}
            }
            if let Some(d) = &m.description {
                para(d.clone());
            }
        }
        SymbolKind::Program => {
            let p = plan.programs.get(name)?;
            para(p.objective.clone());
            let campaigns = plan.campaigns.iter().filter(|(_, c)| c.program == name).count();
            let scenarios = plan.scenarios.iter().filter(|(_, s)| s.program == name).count();
            para(format!("{campaigns} campaign(s), {scenarios} scenario(s)"));
        }
        SymbolKind::Campaign => {
            let c = plan.campaigns.get(name)?;
            para(format!(
                "Program `{}`, sent {} (contact's local time)",
                c.program, c.send_at
            ));
            para(format!("Audience: `{}`", c.audience));
        }
        SymbolKind::Scenario => {
            let s = plan.scenarios.get(name)?;
            para(format!("Program `{}`, {} step(s)", s.program, s.steps.len()));
            if let Some(a) = &s.audience {
                para(format!("Audience: `{a}`"));
            }
        }
    }
    Some(out)
}

/// "GSM-7, 1 segment (worst case 87/160 characters)".
fn sms_summary(plan: &crate::model::Plan, text: &crate::model::Template, transliterate: bool) -> String {
    let Some(a) = &text.analysis else {
        return "The template does not parse.".into();
    };
    let has_vars = a.output.iter().any(|o| !matches!(o, crate::template::Out::Text(_)));
    if !has_vars {
        let t = if transliterate {
            crate::sms::transliterate(&text.source)
        } else {
            text.source.clone()
        };
        let s = crate::sms::analyze(&t);
        return format!(
            "SMS: {}, {} {}, {} segment(s)",
            s.encoding.as_str(),
            s.units,
            s.encoding.unit_name(),
            s.segments
        );
    }
    let b = crate::rules::bounds_env(&plan.contact).bound(&a.output, transliterate);
    let (segments, encoding) = b.segments();
    format!(
        "SMS, worst case (every variable at its `max_length`): {}, {} segment(s), at most {} characters",
        encoding.as_str(),
        segments,
        b.chars
    )
}
