//! Message content rules: SMS length, encoding, STOP and sender identity;
//! email unsubscribe link, preheader, subject length, links; push lengths
//! and payload size.

use super::bounds::{Bound, Env};
use super::templates::events_by_message;
use super::{RuleCx, Site};
use crate::ast::values::Purpose;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Message, MessageContent, Template};
use crate::sms::{self, Encoding};
use crate::template::{self, Emit, Out, Skeleton};

pub fn check(cx: &mut RuleCx, sites: &[Site]) {
    let plan = cx.plan;
    let events = events_by_message(cx, sites);
    for (name, m) in &plan.messages {
        let env = Env {
            contact: &plan.contact,
            events: events.get(name.as_str()).cloned().unwrap_or_default(),
        };
        match &m.content {
            MessageContent::Sms {
                sender,
                text,
                transliterate,
            } => sms_rules(cx, name, m, sender.as_deref(), text, *transliterate, &env),
            MessageContent::Email {
                subject,
                preheader,
                body,
                ..
            } => email_rules(cx, name, m, subject, preheader.as_ref(), body, &env),
            MessageContent::Push { title, body, url } => push_rules(cx, name, title, body, url.as_deref(), &env),
            MessageContent::Call { .. } => {}
        }
    }
}

fn bound_of(env: &Env, t: &Template, transliterate: bool) -> Option<Bound> {
    t.analysis.as_ref().map(|a| env.bound(&a.output, transliterate))
}

/// A sender ID: 3–11 letters and digits with at least one letter, or a number.
pub fn valid_sender(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return digits.len() <= 15;
    }
    (3..=11).contains(&s.chars().count())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

/// `STOP au 36111`, `Stop SMS au 36111`, `STOP 36111`, `STOP: 36111` (any case).
fn stop_instruction(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices("stop").any(|(i, _)| {
        let mut rest = lower[i + 4..].trim_start();
        for word in ["sms", "au", "to", "at", ":"] {
            if let Some(r) = rest.strip_prefix(word) {
                rest = r.trim_start();
            }
        }
        rest.chars().take_while(char::is_ascii_digit).count() >= 5
    })
}

/// "BoutiqMode: …": a brand prefix ending in `:` within the first 32 characters.
fn sender_identity(text: &str) -> bool {
    let head: String = text.trim_start().chars().take(33).collect();
    match head.find(':') {
        Some(i) if i >= 2 => {
            let brand = &head[..i];
            brand.chars().next().is_some_and(char::is_alphabetic)
                && brand.chars().all(|c| c.is_alphanumeric() || " &'.-".contains(c))
        }
        _ => false,
    }
}

fn sms_rules(
    cx: &mut RuleCx,
    name: &str,
    m: &Message,
    sender: Option<&str>,
    text: &Template,
    transliterate: bool,
    env: &Env,
) {
    let plan = cx.plan;
    if text.source.trim().is_empty() {
        cx.diags.push(
            Diagnostic::new(Code::SmsEmpty, format!("SMS `{name}` has no text"))
                .at(text.span, "empty")
                .help("Write the text, or delete the message."),
        );
        return;
    }
    let default_sender = plan.config.providers.sms.as_ref().and_then(|p| p.from.as_deref());
    if let (Some(s), Some(span)) = (sender, m.sender_span)
        && !valid_sender(s)
    {
        cx.diags.push(
            Diagnostic::new(Code::SmsInvalidSenderId, format!("`{s}` is not a valid SMS sender ID"))
                .at(span, "3–11 letters and digits, or a number")
                .help("Use up to 11 letters and digits (at least one letter), such as `BoutiqMode`, or a short code."),
        );
    }
    if m.purpose == Purpose::Marketing {
        if !sender_identity(&text.source) {
            let brand = sender.or(default_sender).unwrap_or("YourBrand");
            let span = cx.template_span(text, 0, text.source.chars().take(12).map(char::len_utf8).sum());
            cx.diags.push(
                Diagnostic::new(
                    Code::SmsMissingSenderIdentity,
                    format!("marketing SMS `{name}` does not start with the sender's name"),
                )
                .at(span, "the text should start with `Brand: `")
                .help(format!(
                    "Start the text with `{brand}: ` so the advertiser is identified."
                )),
            );
        }
        // In every rendering: not in a comment, nor only in a branch for
        // other contacts (a template that does not parse is reported already).
        let stop_everywhere = text
            .analysis
            .as_ref()
            .is_none_or(|a| template::in_every_rendering(a, &mut |o| matches!(o, Out::Text(t) if stop_instruction(t))));
        if !stop_everywhere {
            let end = text.source.len();
            let start = text.source.char_indices().rev().nth(11).map_or(0, |(i, _)| i);
            cx.diags.push(
                Diagnostic::new(
                    Code::SmsMissingStop,
                    format!("marketing SMS `{name}` has no STOP instruction in every rendering"),
                )
                .at(
                    cx.template_span(text, start, end),
                    if stop_instruction(&text.source) {
                        "`STOP au 36xxx` is only in a comment or in a branch for some contacts"
                    } else {
                        "no `STOP au 36xxx`"
                    },
                )
                .help("End the text with `STOP au 36xxx` (your short code for opt-outs), outside `{% if %}` and comments."),
            );
        }
    }
    let Some(b) = bound_of(env, text, transliterate) else {
        return;
    };
    for u in &b.unbounded {
        let span = cx.template_span(text, u.start, u.end);
        cx.diags.push(
            Diagnostic::new(
                Code::SmsUnboundedVariable,
                format!(
                    "SMS `{name}` prints {} with no maximum length",
                    if u.name.contains(' ') {
                        u.name.clone()
                    } else {
                        format!("`{}`", u.name)
                    }
                ),
            )
            .at(span, "length unknown: the number of segments cannot be bounded")
            .help(match u.name.strip_prefix("contact.") {
                Some(f) => format!(
                    "Add `max_length` to the field `{f}`, or write `{{{{ {} | truncate(20) }}}}`.",
                    u.name
                ),
                None => format!("Bound it with a filter such as `{{{{ {} | truncate(20) }}}}`.", u.name),
            }),
        );
    }
    if !b.unbounded.is_empty() {
        return;
    }
    // Literal characters outside GSM-7.
    let literal_text = if transliterate {
        sms::transliterate(&text.source)
    } else {
        text.source.clone()
    };
    if !transliterate {
        let bad: Vec<(usize, char)> = text
            .source
            .char_indices()
            .filter(|(_, c)| sms::gsm_septets(*c).is_none())
            .collect();
        if let Some(&(first, c0)) = bad.first() {
            let list: Vec<String> = bad
                .iter()
                .take(8)
                .map(|(_, c)| match sms::gsm_replacement(*c) {
                    Some("") => format!("U+{:04X} (remove)", *c as u32),
                    Some(r) => format!("'{c}' → '{r}'"),
                    None => format!("'{c}'"),
                })
                .collect();
            let mut d = Diagnostic::new(
                Code::SmsNonGsmCharacters,
                format!(
                    "SMS `{name}` uses {} outside GSM-7, so it is sent in UCS-2 (70 characters per segment)",
                    plural(bad.len(), "character")
                ),
            )
            .at(
                cx.template_span(text, first, first + c0.len_utf8()),
                format!("'{c0}' is not in GSM-7"),
            );
            for &(i, c) in bad.iter().skip(1).take(7) {
                d = d.related(cx.template_span(text, i, i + c.len_utf8()), format!("'{c}'"));
            }
            cx.diags
                .push(d.help(format!("Replace {}, or set `transliterate: true`.", list.join(", "))));
        }
    }
    let max = plan.policies.sms_max_segments as usize;
    let (segments, encoding) = b.segments();
    let size = match encoding {
        Encoding::Gsm7 => b.septets,
        Encoding::Ucs2 => b.units,
    };
    if segments > max {
        let variables = if b.free_text.is_empty() && size == sms::analyze(&literal_text).units {
            String::new()
        } else {
            " with every variable at its longest".to_string()
        };
        cx.diags.push(
            Diagnostic::new(
                Code::SmsTooLong,
                format!("SMS `{name}` can take {segments} segments; the policy allows {max}"),
            )
            .at(text.span, format!("{size} {} in {}{variables}", encoding.unit_name(), encoding.as_str()))
            .help(format!(
                "Shorten the text below {} {}, bound variables with `truncate(n)`, or raise `policies.sms.max_segments`.",
                if max == 1 { encoding.single() } else { encoding.multi() * max },
                encoding.unit_name()
            )),
        );
    } else if encoding == Encoding::Gsm7 && !b.free_text.is_empty() && !transliterate {
        let ucs2 = sms::segments_for(b.units, Encoding::Ucs2);
        let names: Vec<String> = {
            let mut n: Vec<String> = b.free_text.iter().map(|f| format!("`{}`", f.name)).collect();
            n.dedup();
            n
        };
        let first = &b.free_text[0];
        if ucs2 > max {
            // One "Noël" turns every send of it into several segments: an
            // error, not a warning, since the policy is then broken.
            let fields: Vec<&str> = {
                let mut f: Vec<&str> = b
                    .free_text
                    .iter()
                    .filter_map(|f| f.name.strip_prefix("contact."))
                    .collect();
                f.dedup();
                f
            };
            let declare = match fields.as_slice() {
                [] => String::new(),
                [one] => format!(
                    ", or declare `{one}` GSM-7 only (`charset: gsm7` under `contact.fields.{one}`: contacts with other characters are then rejected when read)"
                ),
                many => format!(
                    ", or declare {} GSM-7 only (`charset: gsm7` on each: contacts with other characters are then rejected when read)",
                    many.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            cx.diags.push(
                Diagnostic::new(
                    Code::SmsMayExceedSegments,
                    format!(
                        "SMS `{name}` can take {ucs2} segments when {} holds a character outside GSM-7 (ë, ê, ç…); the policy allows {max}",
                        names.join(", ")
                    ),
                )
                .at(
                    cx.template_span(text, first.start, first.end),
                    format!("free text: {} UTF-16 units in UCS-2 at worst", b.units),
                )
                .help(format!(
                    "Set `transliterate: true` on the message (the runtime then replaces such characters, ë → e, before sending){declare}."
                )),
            );
            return;
        }
        let consequence = format!(
            " ({} UTF-16 units, {ucs2} segment{})",
            b.units,
            if ucs2 == 1 { "" } else { "s" }
        );
        cx.diags.push(
            Diagnostic::new(
                Code::SmsMaySwitchToUcs2,
                format!("SMS `{name}` may switch to UCS-2 when {} holds a character outside GSM-7 (ê, ç, ï…){consequence}", names.join(", ")),
            )
            .at(cx.template_span(text, first.start, first.end), "free text")
            .help("Set `transliterate: true` on the message: the runtime then replaces such characters (ê → e, ç → c) before sending."),
        );
    }
}

fn plural(n: usize, w: &str) -> String {
    if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") }
}

#[allow(clippy::too_many_arguments)]
fn email_rules(
    cx: &mut RuleCx,
    name: &str,
    m: &Message,
    subject: &Template,
    preheader: Option<&Template>,
    body: &Template,
    env: &Env,
) {
    let plan = cx.plan;
    let html = is_html(body);
    // The body and what it includes, each with the base of its offsets.
    let mut skeletons = vec![(0, template::skeleton(&body.source))];
    for p in body.analysis.iter().flat_map(|a| &a.parts) {
        skeletons.push((p.base, template::skeleton(&p.source)));
    }
    if m.purpose == Purpose::Marketing
        && let Some(a) = &body.analysis
    {
        // The link's `href`s (HTML bodies), from the parsed markup.
        let hrefs: Vec<(usize, usize)> = if html {
            skeletons
                .iter()
                .flat_map(|(base, s)| unsubscribe_hrefs(s).into_iter().map(move |(a, b)| (a + base, b + base)))
                .collect()
        } else {
            Vec::new()
        };
        let linked = |start: usize| !html || hrefs.iter().any(|&(s, e)| s <= start && start < e);
        let everywhere = template::in_every_rendering(a, &mut |o| {
            matches!(o, Out::Emit(Emit::Path { root, attr: None, filters, start, .. })
                if root == "unsubscribe_url"
                    && filters.iter().all(|(f, _)| matches!(f.as_str(), "e" | "escape" | "safe" | "trim" | "string"))
                    && linked(*start))
        });
        if !everywhere {
            let printed = a.references.iter().any(|r| r.root == "unsubscribe_url" && r.printed);
            let label = match (printed, html) {
                (false, _) => "no `{{ unsubscribe_url }}` in this body",
                (true, true) => "`{{ unsubscribe_url }}` is not the `href` of a link in every rendering",
                (true, false) => "`{{ unsubscribe_url }}` is only in a branch for some contacts",
            };
            let span = if body.file.is_some() {
                crate::source::Span::new(body.span.file, 0, 0)
            } else {
                body.span
            };
            cx.diags.push(
                Diagnostic::new(
                    Code::EmailMissingUnsubscribe,
                    format!("marketing email `{name}` has no unsubscribe link in every rendering"),
                )
                .at(span, label)
                .help("Add `<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>` to the body, usually in the footer, outside `{% if %}` and comments."),
            );
        }
    }
    if preheader.is_none() {
        cx.diags.push(
            Diagnostic::new(Code::EmailMissingPreheader, format!("email `{name}` has no preheader"))
                .at(m.span, "no `preheader`")
                .help("Add `preheader:` with 40–100 characters that complete the subject in the inbox."),
        );
    }
    if let Some(b) = bound_of(env, subject, false) {
        let limit = plan.policies.email_subject_max_length as usize;
        if b.unbounded.is_empty() && b.chars > limit {
            cx.diags.push(
                Diagnostic::new(
                    Code::EmailSubjectTooLong,
                    format!("the subject of email `{name}` can be {} characters long", b.chars),
                )
                .at(subject.span, format!("more than {limit} characters"))
                .help(
                    "Shorten it (inboxes show about 60 characters, phones 30–40), or move the detail to the preheader.",
                ),
            );
        }
    }
    let links = skeletons.iter().flat_map(|(base, s)| {
        insecure_links(s, html)
            .into_iter()
            .map(move |(a, b)| (a + base, b + base))
    });
    for (i, end) in links {
        cx.diags.push(
            Diagnostic::new(Code::EmailInsecureLink, format!("email `{name}` links with plain http"))
                .at(cx.template_span(body, i, end), "not https")
                .help("Use `https://` links."),
        );
    }
}

/// An email body is HTML (or MJML) unless it is a `.txt` file or inline text
/// with no markup.
fn is_html(body: &Template) -> bool {
    match &body.path {
        Some(p) => !p.to_ascii_lowercase().ends_with(".txt"),
        None => body.source.contains('<'),
    }
}

/// The `{{ … }}` that are the whole value of an `href` (on `<a>`,
/// `<mj-button>`…), parsed from the body's markup.
fn unsubscribe_hrefs(s: &Skeleton) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for token in html5gum::Tokenizer::new(s.text.as_str()).flatten() {
        if let html5gum::Token::StartTag(tag) = token
            && let Some(v) = tag.attributes.get(b"href".as_slice())
            && let Ok(v) = std::str::from_utf8(v)
            && let Some(p) = s.print_of(v.trim())
        {
            out.push(p);
        }
    }
    out
}

/// Attributes whose value is a URL a reader follows or a client loads.
const URL_ATTRIBUTES: &[&str] = &["href", "src", "action", "background", "poster", "cite", "formaction"];

/// `http://` links: in the URL attributes and the text of an HTML body (not
/// in `xmlns`, a doctype or a comment, which nobody follows), anywhere in a
/// text body. Byte ranges of the source.
fn insecure_links(s: &Skeleton, html: bool) -> Vec<(usize, usize)> {
    let text = s.text.as_str();
    let lower = text.to_ascii_lowercase();
    let find_all = |from: usize, to: usize, out: &mut Vec<(usize, usize)>| {
        let Some(region) = lower.get(from..to) else { return };
        for (i, _) in region.match_indices("http://") {
            let i = from + i;
            let end = text[i..to].find(['"', '\'', ' ', '>', '<', '\n']).map_or(to, |e| i + e);
            out.push((i, end));
        }
    };
    let mut out = Vec::new();
    if !html {
        find_all(0, text.len(), &mut out);
        return out;
    }
    let tokens = html5gum::Tokenizer::new_with_emitter(text, html5gum::DefaultEmitter::<usize>::new_with_span());
    for token in tokens.flatten() {
        match token {
            html5gum::Token::StartTag(tag) => {
                for (name, value) in &tag.attributes {
                    if URL_ATTRIBUTES.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(name)) {
                        find_all(value.span.start, value.span.end.min(text.len()), &mut out);
                    }
                }
            }
            html5gum::Token::String(t) => find_all(t.span.start, t.span.end.min(text.len()), &mut out),
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn push_rules(cx: &mut RuleCx, name: &str, title: &Template, body: &Template, url: Option<&str>, env: &Env) {
    let (Some(t), Some(b)) = (bound_of(env, title, false), bound_of(env, body, false)) else {
        return;
    };
    if t.unbounded.is_empty() && t.chars > 50 {
        cx.diags.push(
            Diagnostic::new(
                Code::PushTitleTooLong,
                format!("the title of push `{name}` can be {} characters long", t.chars),
            )
            .at(title.span, "lock screens show about 50 characters")
            .help("Shorten the title; put the detail in the body."),
        );
    }
    if b.unbounded.is_empty() && b.chars > 178 {
        cx.diags.push(
            Diagnostic::new(
                Code::PushBodyTooLong,
                format!("the body of push `{name}` can be {} characters long", b.chars),
            )
            .at(body.span, "notifications show about 178 characters")
            .help("Shorten the body."),
        );
    }
    // JSON envelope, keys and escaping: a generous 200 bytes.
    let payload = t.bytes + b.bytes + url.map_or(0, str::len) + 200;
    if !t.unbounded.is_empty() || !b.unbounded.is_empty() || payload > 4096 {
        let why = if payload > 4096 {
            format!("about {payload} bytes at worst")
        } else {
            "unbounded: a variable has no maximum length".to_string()
        };
        cx.diags.push(
            Diagnostic::new(
                Code::PushPayloadTooLarge,
                format!("the payload of push `{name}` may exceed 4096 bytes"),
            )
            .at(body.span, why)
            .help("APNs and FCM refuse payloads over 4 KB: shorten the texts and bound variables with `truncate(n)`."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_ids() {
        assert!(valid_sender("BoutiqMode"));
        assert!(valid_sender("36111"));
        assert!(valid_sender("+33612345678"));
        assert!(!valid_sender("Boutique Mode"));
        assert!(!valid_sender("AB"));
        assert!(!valid_sender("BoutiqueModeParis"));
        assert!(!valid_sender("123456789012345678"));
    }

    #[test]
    fn stop_and_identity() {
        assert!(stop_instruction("... STOP au 36111"));
        assert!(stop_instruction("Stop SMS au 36111"));
        assert!(stop_instruction("STOP 36111"));
        assert!(!stop_instruction("STOP"));
        assert!(!stop_instruction("stop here. 36111 later in the message"));
        assert!(sender_identity("BoutiqMode: -30%"));
        assert!(sender_identity("  Garage Martin: votre voiture"));
        assert!(!sender_identity("-30% ce weekend: tout"));
        assert!(!sender_identity("{{ contact.first_name }}: hello"));
    }
}
