//! `messages:` → [`Message`]s: content keys per channel, body files, and
//! template syntax (minijinja).

use super::Ctx;
use crate::ast::values::Channel;
use crate::ast::{Documents, MessageDoc};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ContactModel, Message, MessageContent, Template};
use crate::source::{SourceKind, Span, normalize_relative};
use crate::suggest;
use crate::template::{ProblemKind, Refusal};
use crate::yaml::Sp;
use std::collections::BTreeMap;

pub fn build(cx: &mut Ctx, docs: &Documents, contact: &ContactModel) -> BTreeMap<String, Message> {
    let mut out = BTreeMap::new();
    for decl in cx.unique(&docs.messages, "message") {
        if let Some(m) = message(cx, &decl.name, &decl.doc) {
            // An unknown topic leaves the message out: its sends cannot be
            // proven either way, and that is the same mistake.
            if let Some(t) = &decl.doc.topic
                && !topic(cx, t, m.channel(), contact)
            {
                continue;
            }
            out.insert(decl.name.value.clone(), m);
        }
    }
    out
}

/// A message's topic is one that a consent of its channel lists: the topics
/// are what the preference centre offers.
fn topic(cx: &mut Ctx, t: &Sp<String>, channel: Channel, contact: &ContactModel) -> bool {
    let listed: Vec<&str> = contact
        .consents
        .values()
        .filter(|c| c.channel == channel)
        .flat_map(|c| c.topics.iter().map(String::as_str))
        .collect();
    if listed.contains(&t.value.as_str()) {
        return true;
    }
    let help = suggest::did_you_mean(&t.value, listed.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| {
            format!(
                "Add `{}` to the `topics` of the {channel} consent that covers it (such as `{channel}_{}: {{ channel: {channel}, topics: [{}] }}`), or fix the spelling.",
                t.value, t.value, t.value
            )
        });
    cx.diags.push(
        Diagnostic::new(
            Code::ReferenceUnknownTopic,
            format!("topic `{}` is not listed by any {channel} consent", t.value),
        )
        .at(t.span, "no consent lists this topic")
        .help(help),
    );
    false
}

/// The content keys of a message and the channel each belongs to.
fn content_keys(d: &MessageDoc) -> [(&'static str, Option<Span>, &'static [Channel]); 10] {
    let s = |o: &Option<Sp<String>>| o.as_ref().map(|x| x.span);
    [
        ("subject", s(&d.subject), &[Channel::Email]),
        ("preheader", s(&d.preheader), &[Channel::Email]),
        ("body", s(&d.body), &[Channel::Email, Channel::Push]),
        ("from", s(&d.from), &[Channel::Email]),
        ("reply_to", s(&d.reply_to), &[Channel::Email]),
        ("sender", s(&d.sender), &[Channel::Sms]),
        ("text", s(&d.text), &[Channel::Sms]),
        (
            "transliterate",
            d.transliterate.as_ref().map(|x| x.span),
            &[Channel::Sms],
        ),
        ("title", s(&d.title), &[Channel::Push]),
        ("url", s(&d.url), &[Channel::Push]),
    ]
}

fn message(cx: &mut Ctx, name: &Sp<String>, d: &MessageDoc) -> Option<Message> {
    let channel = d.channel.value;
    let before = cx.diags.len();
    let mut keys = content_keys(d).to_vec();
    keys.push(("script", d.script.as_ref().map(|x| x.span), &[Channel::Call]));
    for (key, span, channels) in &keys {
        if let Some(span) = span
            && !channels.contains(&channel)
        {
            let owners: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            let expected: Vec<&str> = keys
                .iter()
                .filter(|(_, _, cs)| cs.contains(&channel))
                .map(|(k, _, _)| *k)
                .collect();
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaWrongChannelField,
                    format!("`{key}` is not part of {} message", article(channel)),
                )
                .at(*span, format!("`{key}` belongs to {} messages", owners.join("/")))
                .related(d.channel.span, format!("this message is `{channel}`"))
                .help(format!(
                    "{} messages take {}; remove `{key}` or change the channel.",
                    channel.as_str().to_uppercase(),
                    expected.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )),
            );
        }
    }
    let require = |cx: &mut Ctx, key: &str, v: &Option<Sp<String>>| -> Option<Sp<String>> {
        if v.is_none() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaMissingKey,
                    format!("{} message `{}` lacks `{key}`", channel, name.value),
                )
                .at(name.span, format!("`{key}` is required for {} messages", channel))
                .help(format!("Add `{key}:` to the message.")),
            );
        }
        v.clone()
    };
    let content = match channel {
        Channel::Email => {
            let subject = require(cx, "subject", &d.subject);
            let body = require(cx, "body", &d.body);
            let subject = subject.map(|s| inline(cx, &s));
            let preheader = d.preheader.as_ref().map(|p| inline(cx, p));
            let body = body.and_then(|b| email_body(cx, &b));
            match (subject, body) {
                (Some(subject), Some(body)) => Some(MessageContent::Email {
                    subject,
                    preheader,
                    body,
                    from: d.from.as_ref().map(|f| f.value.clone()),
                    reply_to: d.reply_to.as_ref().map(|f| f.value.clone()),
                }),
                _ => None,
            }
        }
        Channel::Sms => require(cx, "text", &d.text).map(|t| MessageContent::Sms {
            sender: d.sender.as_ref().map(|s| s.value.clone()),
            text: inline(cx, &t),
            transliterate: d.transliterate.as_ref().is_some_and(|t| t.value),
        }),
        Channel::Push => {
            let title = require(cx, "title", &d.title).map(|t| inline(cx, &t));
            let body = require(cx, "body", &d.body).map(|b| inline(cx, &b));
            match (title, body) {
                (Some(title), Some(body)) => Some(MessageContent::Push {
                    title,
                    body,
                    url: d.url.as_ref().map(|u| u.value.clone()),
                }),
                _ => None,
            }
        }
        Channel::Call => require(cx, "script", &d.script).map(|s| MessageContent::Call { script: inline(cx, &s) }),
    }?;
    if cx.diags.len() > before {
        return None;
    }
    Some(Message {
        purpose: d.purpose.value,
        topic: d.topic.as_ref().map(|t| t.value.clone()),
        tags: d.tags.iter().map(|t| t.value.clone()).collect(),
        description: d.description.clone(),
        content,
        span: name.span,
        sender_span: d.sender.as_ref().map(|s| s.span),
    })
}

fn article(c: Channel) -> &'static str {
    match c {
        Channel::Email => "an email",
        Channel::Sms => "an SMS",
        Channel::Push => "a push",
        Channel::Call => "a call",
    }
}

/// A template written in the YAML scalar itself.
fn inline(cx: &mut Ctx, s: &Sp<String>) -> Template {
    let map = cx.scalar_map(s);
    let analysis = syntax(cx, &s.value, |start, end| map.span(s.span.file, start, end));
    Template {
        source: s.value.clone(),
        path: None,
        span: s.span,
        file: None,
        includes: includes_of(analysis.as_ref()),
        analysis,
    }
}

/// The parts of an analysis, for rendering (path → text).
fn includes_of(a: Option<&crate::template::Analysis>) -> BTreeMap<String, String> {
    a.map(|a| a.parts.iter().map(|p| (p.path.clone(), p.source.clone())).collect())
        .unwrap_or_default()
}

/// Is this `body:` value a path to a template file rather than inline content?
pub fn is_body_path(value: &str) -> bool {
    let v = value.trim();
    !v.contains(char::is_whitespace)
        && !v.contains("{{")
        && v.rsplit_once('.')
            .is_some_and(|(_, ext)| crate::source::TEMPLATE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

fn email_body(cx: &mut Ctx, b: &Sp<String>) -> Option<Template> {
    if !is_body_path(&b.value) {
        return Some(inline(cx, b));
    }
    let sources = cx.sources;
    let path = normalize_relative(b.value.trim());
    let found = path.as_deref().and_then(|p| sources.find(p)).and_then(|id| {
        let f = sources.get(id)?;
        (f.kind == SourceKind::Template).then_some((id, f))
    });
    let Some((id, file)) = found else {
        let candidates: Vec<&str> = sources
            .iter()
            .filter(|(_, f)| f.kind == SourceKind::Template)
            .map(|(_, f)| f.path.as_str())
            .collect();
        let help = match path {
            None => Some("Use a path inside the plan directory, relative to it (no `..` above it, no leading `/`).".to_string()),
            Some(p) => suggest::did_you_mean(&p, candidates.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("Create `{p}` in the plan directory, or fix the path (relative to the directory holding herald.toml)."))),
        };
        cx.diags.push(
            Diagnostic::new(
                Code::ReferenceMissingFile,
                format!("template file `{}` not found", b.value.trim()),
            )
            .at(b.span, "no such file in the plan directory")
            .maybe_help(help),
        );
        return None;
    };
    let text = file.text.as_str();
    let analysis = syntax(cx, text, |start, end| Span::new(id, start, end.max(start)));
    Some(Template {
        source: text.to_string(),
        path: Some(file.path.clone()),
        span: Span::new(id, 0, text.len()),
        file: Some(id),
        includes: includes_of(analysis.as_ref()),
        analysis,
    })
}

/// A template named by `{% include %}`, `{% import %}` or `{% extends %}`:
/// a template file of the plan directory, by its path relative to it (no
/// `..`, no absolute path).
fn resolve(sources: &crate::SourceSet, name: &str) -> Result<(String, String), Refusal> {
    let outside = name.starts_with('/')
        || name.starts_with('\\')
        || std::path::Path::new(name)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir | std::path::Component::Prefix(_)));
    if outside {
        return Err(Refusal::Outside);
    }
    let path = normalize_relative(name).ok_or(Refusal::Outside)?;
    let file = sources
        .find(&path)
        .and_then(|id| sources.get(id))
        .filter(|f| f.kind == SourceKind::Template)
        .ok_or(Refusal::Missing)?;
    Ok((path, file.text.clone()))
}

/// Report what an analysis could not include, at the name (in the template
/// or in a part) or, for a syntax error, in the included file.
fn problems(cx: &mut Ctx, a: &crate::template::Analysis, to_span: &impl Fn(usize, usize) -> Span) {
    let sources = cx.sources;
    let span = |start: usize, end: usize| match a.part_at(start) {
        Some(p) => match sources.find(&p.path) {
            Some(id) => Span::new(id, start - p.base, end.saturating_sub(p.base).max(start - p.base)),
            None => to_span(0, 0),
        },
        None => to_span(start, end),
    };
    for p in &a.problems {
        let at = span(p.start, p.end);
        let d = match &p.kind {
            ProblemKind::Missing(name) => {
                let candidates = sources
                    .iter()
                    .filter(|(_, f)| f.kind == SourceKind::Template)
                    .map(|(_, f)| f.path.as_str());
                Diagnostic::new(Code::ReferenceMissingFile, format!("template file `{name}` not found"))
                    .at(at, "no such template file in the plan directory")
                    .help(
                        suggest::did_you_mean(name, candidates)
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("Create `{name}` in the plan directory: templates are named by their path relative to the directory holding herald.toml.")),
                    )
            }
            ProblemKind::Outside(name) => Diagnostic::new(
                Code::TemplateInclude,
                format!("`{name}` is outside the plan directory"),
            )
            .at(at, "`..` and absolute paths are refused")
            .help("Name a template file of the plan directory by its path relative to it, such as `templates/footer.html`."),
            ProblemKind::Dynamic => Diagnostic::new(Code::TemplateInclude, "the template to include is computed")
                .at(at, "not a quoted path")
                .help("Write the path of the template as quoted text, such as `{% include \"templates/footer.html\" %}`, so that it can be checked."),
            ProblemKind::Cycle(name) => Diagnostic::new(
                Code::TemplateInclude,
                format!("`{name}` includes itself"),
            )
            .at(at, "a cycle of includes (or more than 16 levels)")
            .help("Include each template from the outside in: a footer does not include the layout that includes it."),
            ProblemKind::Syntax { start, end, detail } => {
                Diagnostic::new(Code::SyntaxTemplate, format!("template syntax error: {detail}"))
                    .at(span(*start, *end), detail.clone())
                    .related(at, "included here")
                    .help("Fix the template syntax: `{{ contact.first_name | default('') }}` prints a value, `{% if ... %}...{% endif %}` branches.")
            }
        };
        // A footer shared by many messages: its error once.
        if !cx.diags.contains(&d) {
            cx.diags.push(d);
        }
    }
}

/// Parse a template; report a syntax error at the right place.
fn syntax(cx: &mut Ctx, text: &str, to_span: impl Fn(usize, usize) -> Span) -> Option<crate::template::Analysis> {
    let sources = cx.sources;
    let cached = if cx.cache.keeps() {
        cx.cache.templates.get(&text.to_string())
    } else {
        None
    };
    let analysed = match cached {
        Some(a) => {
            cx.cache.stats.templates_reused += 1;
            Ok(a.clone())
        }
        None => {
            cx.cache.stats.templates_analysed += 1;
            // A template that names another reads that file too: only one
            // that names none is a function of its text, and memoized (a
            // syntax error is found again: it is rare, and being fixed).
            let named = std::cell::Cell::new(false);
            let r = crate::template::parse_with(text, &|name| {
                named.set(true);
                resolve(sources, name)
            });
            if let Ok(a) = &r
                && !named.get()
                && cx.cache.keeps()
            {
                cx.cache.templates.insert(text.to_string(), a.clone());
            }
            r
        }
    };
    let e = match analysed {
        Ok(a) => {
            problems(cx, &a, &to_span);
            return Some(a);
        }
        Err(e) => e,
    };
    let (start, end) = match e.range() {
        Some(r) => (r.start, r.end),
        None => {
            // Fall back to the start of the reported line.
            let line = e.line().unwrap_or(1);
            let off: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            (off, off)
        }
    };
    let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
    let help = if detail.contains("unknown filter") || detail.contains("unknown test") {
        "Use one of the built-in filters (default, upper, lower, title, truncate, ...).".to_string()
    } else if detail.contains("end of input") || detail.contains("unexpected end") {
        "Close every `{{` with `}}` and every `{%` block with its `{% end... %}`.".to_string()
    } else {
        "Fix the template syntax: `{{ contact.first_name | default('') }}` prints a value, `{% if ... %}...{% endif %}` branches.".to_string()
    };
    cx.diags.push(
        Diagnostic::new(Code::SyntaxTemplate, format!("template syntax error: {detail}"))
            .at(to_span(start, end), detail)
            .help(help),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_paths_are_single_words_with_a_template_extension() {
        assert!(is_body_path("templates/welcome.mjml"));
        assert!(is_body_path(" a.HTML "));
        assert!(!is_body_path("<mjml><mj-body>hi</mj-body></mjml>"));
        assert!(!is_body_path("Hello {{ contact.x }}.txt"));
        assert!(!is_body_path("see you.txt soon"));
        assert!(!is_body_path("notes.md"));
    }
}
