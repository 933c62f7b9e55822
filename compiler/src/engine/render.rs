//! A message rendered for one contact: what `herald preview` shows and what
//! the runtime sends. Pure: the caller provides the context.

use crate::model::{Message, MessageContent};
use crate::sms;
use crate::template;
use minijinja::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Rendered {
    Email {
        subject: String,
        preheader: Option<String>,
        html: String,
        text: String,
    },
    Sms {
        text: String,
        analysis: sms::Analysis,
    },
    Push {
        title: String,
        body: String,
        url: Option<String>,
    },
    Call {
        script: String,
    },
}

/// Why a message could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError {
    /// `subject`, `body`, `text`…
    pub part: &'static str,
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} fails to render: {}", self.part, self.message)
    }
}

/// Renders messages, compiling each template once: the runner renders the
/// same few templates for every contact of a campaign.
#[derive(Default)]
pub struct Renderer<'s> {
    /// One environment per message (keyed by its address in the plan, which
    /// outlives the renderer): its channel's formats, the templates it
    /// includes, and its parts, named by their source so each compiles once.
    envs: std::collections::HashMap<usize, minijinja::Environment<'s>>,
}

impl<'s> Renderer<'s> {
    /// Render a message with a context (`contact`, `event`, built-ins), in
    /// the formats of the project it belongs to (`config`: locale, currency,
    /// time zone).
    pub fn render(
        &mut self,
        config: &crate::config::Config,
        message: &'s Message,
        ctx: &Value,
    ) -> Result<Rendered, RenderError> {
        let env = self.envs.entry(message as *const Message as usize).or_insert_with(|| {
            // The templates its parts include, import or extend.
            let mut includes = std::collections::BTreeMap::new();
            for t in crate::rules::templates_of(message) {
                includes.extend(t.1.includes.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let mut env = template::environment_with(&includes, &config.format(message.channel()));
            // As `template_from_str`: no escaping whatever the name (a source
            // ending in `.html` must not turn it on).
            env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
            env
        });
        render_with(env, message, ctx)
    }
}

/// Render a message with a context (`contact`, `event`, built-ins), in the
/// project's formats (`config`: locale, currency, time zone).
pub fn render(config: &crate::config::Config, message: &Message, ctx: &Value) -> Result<Rendered, RenderError> {
    Renderer::default().render(config, message, ctx)
}

fn one<'s>(
    env: &mut minijinja::Environment<'s>,
    part: &'static str,
    source: &'s str,
    ctx: &Value,
) -> Result<String, RenderError> {
    let error = |e: template::RenderFailure| RenderError {
        part,
        message: match e {
            // A part is named by its source: say `<string>` as `template_from_str`
            // does; an included template by its path.
            template::RenderFailure::Error(e) => e.detail().map(str::to_string).unwrap_or_else(|| match e.name() {
                Some(name) if name != source => format!("{} (in {name}:{})", e.kind(), e.line().unwrap_or(0)),
                Some(_) => format!("{} (in <string>:{})", e.kind(), e.line().unwrap_or(0)),
                None => e.kind().to_string(),
            }),
            other => other.to_string(),
        },
    };
    if env.get_template(source).is_err() {
        env.add_template(source, source).map_err(|e| error(e.into()))?;
    }
    let compiled = env.get_template(source).map_err(|e| error(e.into()))?;
    template::render_compiled(&compiled, ctx).map_err(error)
}

fn render_with<'s>(
    env: &mut minijinja::Environment<'s>,
    message: &'s Message,
    ctx: &Value,
) -> Result<Rendered, RenderError> {
    Ok(match &message.content {
        MessageContent::Email {
            subject,
            preheader,
            body,
            ..
        } => {
            let subject = one(env, "subject", &subject.source, ctx)?;
            let preheader = preheader
                .as_ref()
                .map(|p| one(env, "preheader", &p.source, ctx))
                .transpose()?;
            let body = one(env, "body", &body.source, ctx)?;
            let html = if body.trim_start().starts_with("<mjml") {
                mjml_to_html(&body).map_err(|message| RenderError { part: "body", message })?
            } else {
                body
            };
            let text = html_to_text(&html);
            Rendered::Email {
                subject,
                preheader,
                html,
                text,
            }
        }
        MessageContent::Sms {
            text, transliterate, ..
        } => {
            let mut out = one(env, "text", &text.source, ctx)?;
            // Most texts are GSM-7 already: nothing to rewrite.
            if *transliterate && out.chars().any(|c| sms::gsm_septets(c).is_none()) {
                out = sms::transliterate(&out);
            }
            let analysis = sms::analyze(&out);
            Rendered::Sms { text: out, analysis }
        }
        MessageContent::Push { title, body, url } => Rendered::Push {
            title: one(env, "title", &title.source, ctx)?,
            body: one(env, "body", &body.source, ctx)?,
            url: url.clone(),
        },
        MessageContent::Call { script } => Rendered::Call {
            script: one(env, "script", &script.source, ctx)?,
        },
    })
}

/// Compile MJML to HTML.
pub fn mjml_to_html(mjml: &str) -> Result<String, String> {
    let parsed = mrml::parse(mjml).map_err(|e| e.to_string())?;
    parsed
        .element
        .render(&mrml::prelude::render::RenderOptions::default())
        .map_err(|e| e.to_string())
}

/// The plain-text part of an HTML email: block elements become line
/// breaks, tags go, entities are decoded, blank lines collapse.
pub fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < html.len() {
        if bytes[i] == b'<' {
            // Skip whole <head>, <style> and <script> elements.
            let mut skipped = false;
            for tag in ["head", "style", "script", "title"] {
                if lower[i + 1..].starts_with(tag) {
                    let close = format!("</{tag}");
                    if let Some(end) = lower[i..].find(&close) {
                        let after = lower[i + end..].find('>').map_or(html.len(), |e| i + end + e + 1);
                        i = after;
                        skipped = true;
                        break;
                    }
                }
            }
            if skipped {
                continue;
            }
            let end = lower[i..].find('>').map_or(html.len(), |e| i + e + 1);
            let tag = &lower[i..end];
            let name: String = tag
                .trim_start_matches(['<', '/'])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if matches!(
                name.as_str(),
                "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table"
            ) {
                out.push('\n');
            }
            if name == "a"
                && !tag.starts_with("</")
                && let Some(h) = tag.find("href=")
            {
                let rest = &html[i + h + 5..end];
                let quote = rest.chars().next().unwrap_or('"');
                let url: String = rest
                    .trim_start_matches(['"', '\''])
                    .chars()
                    .take_while(|c| *c != quote && *c != '>')
                    .collect();
                if url.starts_with("http") {
                    out.push_str(&format!(" <{url}> "));
                }
            }
            i = end;
        } else {
            let next = html[i..].find('<').map_or(html.len(), |n| i + n);
            out.push_str(&html[i..next]);
            i = next;
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut lines: Vec<String> = Vec::new();
    for line in decoded.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let l = words.join(" ");
        if l.is_empty() && lines.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        lines.push(l);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renderer_compiles_once_and_renders_like_render() {
        let mut set = crate::SourceSet::new();
        set.add(crate::SourceFile::new(
            "herald.toml",
            crate::SourceKind::Config,
            "[project]\nname='t'\ntimezone='UTC'\n",
        ));
        // A subject that reads like a file name must not turn HTML escaping on.
        let yaml = r#"
contact:
  fields:
    first_name: { type: string }
messages:
  m:
    channel: email
    purpose: service
    subject: "{{ contact.first_name }} & co, see page.html"
    body: "<p>{{ contact.first_name }}</p>"
  s:
    channel: sms
    purpose: service
    text: "Hi {{ contact.first_name }}"
"#;
        set.add(crate::SourceFile::new("p.yaml", crate::SourceKind::Yaml, yaml));
        let c = crate::compile(&set, chrono::DateTime::UNIX_EPOCH, &Default::default());
        let mut renderer = Renderer::default();
        for name in ["A<b>", "Zoé", "A<b>"] {
            let ctx = minijinja::context! { contact => minijinja::context! { first_name => name } };
            for m in ["m", "s"] {
                let message = &c.plan.messages[m];
                assert_eq!(
                    renderer.render(&c.plan.config, message, &ctx),
                    render(&c.plan.config, message, &ctx)
                );
            }
            let Ok(Rendered::Email { subject, .. }) = renderer.render(&c.plan.config, &c.plan.messages["m"], &ctx)
            else {
                panic!("an email")
            };
            assert_eq!(subject, format!("{name} & co, see page.html"));
        }
        let err = renderer.render(&c.plan.config, &c.plan.messages["s"], &minijinja::context! {});
        assert_eq!(err.map_err(|e| e.message), Err("`contact` is undefined".to_string()));
    }

    #[test]
    fn html_becomes_readable_text() {
        let html = "<html><head><style>p{color:red}</style></head><body><h1>Soldes</h1><p>-30&nbsp;% sur <b>tout</b></p><p><a href=\"https://x.test/u\">Se désinscrire</a></p></body></html>";
        let text = html_to_text(html);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["Soldes", "", "-30 % sur tout", "", "<https://x.test/u> Se désinscrire"],
            "{text:?}"
        );
    }

    #[test]
    fn mjml_compiles_to_html() {
        let html = mjml_to_html("<mjml><mj-body><mj-section><mj-column><mj-text>Bonjour</mj-text></mj-column></mj-section></mj-body></mjml>").unwrap();
        assert!(html.contains("Bonjour") && html.contains("<html"));
        assert!(html_to_text(&html).contains("Bonjour"));
    }
}
