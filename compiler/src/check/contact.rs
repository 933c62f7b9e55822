//! `contact:` declarations → [`ContactModel`].

use super::Ctx;
use crate::ast::{self, Decl};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Consent, ContactModel, Event, Field, FieldType, ID_FIELD};

pub fn build(cx: &mut Ctx, docs: &ast::Documents) -> ContactModel {
    let mut model = ContactModel::default();
    for decl in cx.unique(&docs.fields, "field") {
        if decl.name.value == ID_FIELD {
            cx.diags.push(
                Diagnostic::new(Code::SchemaInvalidName, "`id` is a built-in field")
                    .at(decl.name.span, "every contact already has an `id`")
                    .help("Remove this declaration, or rename it (for example `external_id`)."),
            );
            continue;
        }
        if let Some(f) = field(cx, decl) {
            model.fields.insert(decl.name.value.clone(), f);
        }
    }
    for decl in cx.unique(&docs.consents, "consent") {
        let mut topics: Vec<String> = Vec::new();
        if let Some(list) = &decl.doc.topics {
            if list.value.is_empty() {
                cx.diags.push(
                    Diagnostic::new(
                        Code::SchemaInvalidValue,
                        format!("consent `{}` lists no topic", decl.name.value),
                    )
                    .at(list.span, "empty list")
                    .help("List the topics the contact agreed to, such as `[tips]`, or remove `topics` to cover every topic of the channel."),
                );
            }
            for t in &list.value {
                if let Some(d) = crate::load::check_name(&t.value, t.span, "topic") {
                    cx.diags.push(d);
                } else if topics.contains(&t.value) {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::SchemaInvalidValue,
                            format!("topic `{}` is listed twice in consent `{}`", t.value, decl.name.value),
                        )
                        .at(t.span, "listed again")
                        .help("Remove the duplicate."),
                    );
                } else {
                    topics.push(t.value.clone());
                }
            }
        }
        model.consents.insert(
            decl.name.value.clone(),
            Consent {
                channel: decl.doc.channel.value,
                double_opt_in: decl.doc.double_opt_in,
                topics,
                span: decl.name.span,
            },
        );
    }
    for decl in cx.unique(&docs.events, "event") {
        let mut properties = std::collections::BTreeMap::new();
        let mut seen = std::collections::BTreeMap::new();
        for (name, ty) in &decl.doc.properties {
            if let Some(d) = crate::load::check_name(&name.value, name.span, "property") {
                cx.diags.push(d);
                continue;
            }
            if let Some(first) = seen.insert(name.value.clone(), name.span) {
                cx.diags.push(
                    Diagnostic::new(
                        Code::ReferenceDuplicate,
                        format!("property `{}` is declared twice", name.value),
                    )
                    .at(name.span, "declared again here")
                    .related(first, "first declared here")
                    .help("Keep one declaration."),
                );
                continue;
            }
            properties.insert(name.value.clone(), ty.value);
        }
        model.events.insert(
            decl.name.value.clone(),
            Event {
                properties,
                span: decl.name.span,
            },
        );
    }
    model
}

fn field(cx: &mut Ctx, decl: &Decl<ast::FieldDoc>) -> Option<Field> {
    let d = &decl.doc;
    let name = &decl.name.value;
    let mut bad = |span, msg: String, label: &str, help: String| {
        cx.diags.push(
            Diagnostic::new(Code::SchemaInvalidFieldDefinition, msg)
                .at(span, label.to_string())
                .help(help),
        );
    };
    let ty_span = d.ty.span;
    let ty = match d.ty.value {
        ast::FieldType::String => FieldType::String,
        ast::FieldType::Email => FieldType::Email,
        ast::FieldType::Phone => FieldType::Phone,
        ast::FieldType::Number => FieldType::Number,
        ast::FieldType::Integer => FieldType::Integer,
        ast::FieldType::Boolean => FieldType::Boolean,
        ast::FieldType::Date => FieldType::Date,
        ast::FieldType::Datetime => FieldType::Datetime,
        ast::FieldType::Timezone => FieldType::Timezone,
        ast::FieldType::Enum => {
            let Some(values) = &d.values else {
                bad(
                    ty_span,
                    format!("enum field `{name}` lists no values"),
                    "an enum needs `values`",
                    "Add `values: [A, B]` with the allowed values.".into(),
                );
                return None;
            };
            if values.is_empty() {
                bad(
                    ty_span,
                    format!("enum field `{name}` lists no values"),
                    "an enum needs `values`",
                    "Add at least one value to `values`.".into(),
                );
                return None;
            }
            let mut seen: Vec<&str> = Vec::new();
            for v in values {
                if seen.contains(&v.value.as_str()) {
                    bad(
                        v.span,
                        format!("value \"{}\" is listed twice in `{name}`", v.value),
                        "duplicate value",
                        "Remove the duplicate.".into(),
                    );
                }
                seen.push(&v.value);
            }
            FieldType::Enum {
                values: values.iter().map(|v| v.value.clone()).collect(),
            }
        }
        ast::FieldType::List => match &d.of {
            Some(of) => FieldType::List { of: of.value },
            None => {
                bad(
                    ty_span,
                    format!("list field `{name}` does not say what it holds"),
                    "a list needs `of`",
                    "Add `of: string` (or number, date...).".into(),
                );
                return None;
            }
        },
    };
    if d.values.is_some() && !matches!(ty, FieldType::Enum { .. }) {
        let span = d.values.as_ref().and_then(|v| v.first()).map_or(ty_span, |v| v.span);
        bad(
            span,
            format!(
                "`values` only applies to enum fields, and `{name}` is {}",
                ty.describe()
            ),
            "unexpected `values`",
            "Set `type: enum`, or remove `values`.".into(),
        );
    }
    if let (Some(of), false) = (&d.of, matches!(ty, FieldType::List { .. })) {
        bad(
            of.span,
            format!("`of` only applies to list fields, and `{name}` is {}", ty.describe()),
            "unexpected `of`",
            "Set `type: list`, or remove `of`.".into(),
        );
    }
    if let Some(ml) = &d.max_length {
        let texty = matches!(ty, FieldType::String | FieldType::Email | FieldType::Phone);
        if !texty {
            bad(
                ml.span,
                format!(
                    "`max_length` only applies to text fields, and `{name}` is {}",
                    ty.describe()
                ),
                "unexpected `max_length`",
                "Remove `max_length`.".into(),
            );
        } else if ml.value == 0 {
            bad(
                ml.span,
                format!("`max_length` of `{name}` is 0"),
                "must be at least 1",
                "Set the longest length the field can hold.".into(),
            );
        }
    }
    if let Some(cs) = &d.charset
        && cs.value == ast::Charset::Gsm7
        && !matches!(ty, FieldType::String)
    {
        bad(
            cs.span,
            format!(
                "`charset` only applies to string fields, and `{name}` is {}",
                ty.describe()
            ),
            "unexpected `charset`",
            "Remove `charset`.".into(),
        );
    }
    Some(Field {
        ty,
        optional: d.optional,
        max_length: d.max_length.as_ref().map(|m| m.value),
        charset: d.charset.as_ref().map(|c| c.value).unwrap_or_default(),
        description: d.description.clone(),
        span: decl.name.span,
    })
}
