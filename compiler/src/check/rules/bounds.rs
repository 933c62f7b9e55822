//! Worst-case lengths of a template's output: literal text plus every
//! variable at its longest (field `max_length`, enum values, `truncate(n)`,
//! `default(...)` text).

use crate::model::{ContactModel, Event, FieldType};
use crate::sms;
use crate::template::{Emit, Out};

/// A variable without a static bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbounded {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// A free-text variable (may hold any character).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeText {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bound {
    /// Characters, at most.
    pub chars: usize,
    /// GSM-7 septets if the message stays GSM-7 (variables at 1 septet per character).
    pub septets: usize,
    /// UTF-16 units (variables at 1 unit per character).
    pub units: usize,
    /// UTF-8 bytes (variables at 2 bytes per character).
    pub bytes: usize,
    /// The literal text holds characters outside GSM-7.
    pub literal_non_gsm: bool,
    pub free_text: Vec<FreeText>,
    pub unbounded: Vec<Unbounded>,
}

impl Bound {
    fn add(&mut self, o: Bound) {
        self.chars += o.chars;
        self.septets += o.septets;
        self.units += o.units;
        self.bytes += o.bytes;
        self.literal_non_gsm |= o.literal_non_gsm;
        self.free_text.extend(o.free_text);
        self.unbounded.extend(o.unbounded);
    }

    fn max(mut self, o: Bound) -> Bound {
        self.chars = self.chars.max(o.chars);
        self.septets = self.septets.max(o.septets);
        self.units = self.units.max(o.units);
        self.bytes = self.bytes.max(o.bytes);
        self.literal_non_gsm |= o.literal_non_gsm;
        self.free_text.extend(o.free_text);
        self.unbounded.extend(o.unbounded);
        self
    }

    /// Worst-case segments, and the encoding they are counted in.
    pub fn segments(&self) -> (usize, sms::Encoding) {
        if self.literal_non_gsm {
            (sms::segments_for(self.units, sms::Encoding::Ucs2), sms::Encoding::Ucs2)
        } else {
            (
                sms::segments_for(self.septets, sms::Encoding::Gsm7),
                sms::Encoding::Gsm7,
            )
        }
    }
}

/// Literal text, measured exactly.
pub fn literal(text: &str) -> Bound {
    let mut b = Bound::default();
    for c in text.chars() {
        b.chars += 1;
        b.units += c.len_utf16();
        b.bytes += c.len_utf8();
        match sms::gsm_septets(c) {
            Some(s) => b.septets += s,
            None => {
                b.septets += 1;
                b.literal_non_gsm = true;
            }
        }
    }
    b
}

fn value(chars: usize, free: Option<FreeText>) -> Bound {
    Bound {
        chars,
        septets: chars,
        units: chars,
        bytes: chars * 2,
        literal_non_gsm: false,
        free_text: free.into_iter().collect(),
        unbounded: Vec::new(),
    }
}

/// The longest value of a field type, and whether it is free text (`gsm7`:
/// declared `charset: gsm7`, so it is not).
fn field_len(ty: &FieldType, max_length: Option<u32>, gsm7: bool) -> (Option<usize>, bool) {
    match ty {
        FieldType::String => (max_length.map(|m| m as usize), !gsm7),
        FieldType::Email | FieldType::Phone => (
            max_length.map(|m| m as usize).or(Some(match ty {
                FieldType::Phone => 16,
                _ => 254,
            })),
            false,
        ),
        FieldType::Enum { values } => {
            let free = values.iter().any(|v| v.chars().any(|c| sms::gsm_septets(c).is_none()));
            (Some(values.iter().map(|v| v.chars().count()).max().unwrap_or(0)), free)
        }
        FieldType::Integer => (Some(11), false),
        FieldType::Number => (Some(24), false),
        FieldType::Boolean => (Some(5), false),
        FieldType::Date => (Some(10), false),
        FieldType::Datetime => (Some(25), false),
        FieldType::Timezone => (Some(32), false),
        FieldType::List { .. } => (None, true),
    }
}

pub struct Env<'a> {
    pub contact: &'a ContactModel,
    /// The events the template may be rendered with (their properties).
    pub events: Vec<&'a Event>,
}

impl Env<'_> {
    fn path(&self, root: &str, attr: Option<&str>) -> (Option<usize>, bool) {
        match (root, attr) {
            ("contact", Some("id")) => (Some(64), false),
            ("contact", Some(f)) => self.contact.fields.get(f).map_or((None, true), |fd| {
                field_len(&fd.ty, fd.max_length, fd.charset == crate::ast::Charset::Gsm7)
            }),
            ("event", Some(p)) => {
                let mut best: (Option<usize>, bool) = (Some(0), false);
                for e in &self.events {
                    let Some(t) = e.properties.get(p) else { continue };
                    let (len, free) = field_len(&FieldType::from_scalar(*t), None, false);
                    best = (best.0.zip(len).map(|(a, b)| a.max(b)), best.1 || free);
                }
                best
            }
            ("unsubscribe_url" | "preferences_url" | "view_online_url", None) => (Some(64), false),
            ("", Some(c)) => (
                Some(c.chars().count()),
                c.chars().any(|ch| sms::gsm_septets(ch).is_none()),
            ),
            _ => (None, true),
        }
    }

    fn emit(&self, e: &Emit) -> Bound {
        match e {
            Emit::Const(c) => literal(c),
            Emit::Other { start, end } => Bound {
                unbounded: vec![Unbounded {
                    name: "this expression".into(),
                    start: *start,
                    end: *end,
                }],
                ..Bound::default()
            },
            Emit::Path {
                root,
                attr,
                filters,
                start,
                end,
            } => {
                let name = match attr {
                    Some(a) if !root.is_empty() => format!("{root}.{a}"),
                    Some(a) => format!("'{a}'"),
                    None => root.clone(),
                };
                let (mut len, mut free) = self.path(root, attr.as_deref());
                for (f, args) in filters {
                    match f.as_str() {
                        "default" | "d" => {
                            let alt = args.first().map(|a| self.emit(a));
                            len = match (len, alt.as_ref()) {
                                (Some(l), Some(b)) if b.unbounded.is_empty() => Some(l.max(b.chars)),
                                (l, None) => l,
                                _ => None,
                            };
                            free |= alt.is_some_and(|b| !b.free_text.is_empty() || b.literal_non_gsm);
                        }
                        "truncate" => {
                            let n = match args.first() {
                                Some(Emit::Const(n)) => n.parse::<usize>().ok(),
                                _ => None,
                            };
                            len = n.map(|n| len.map_or(n, |l| l.min(n)));
                        }
                        "upper" | "lower" | "title" | "capitalize" | "trim" | "escape" | "e" | "safe" | "string" => {}
                        "round" | "int" | "float" | "abs" => {
                            len = Some(24);
                            free = false;
                        }
                        "length" | "count" => {
                            len = Some(10);
                            free = false;
                        }
                        // `jeudi 23 décembre 1976`, `Wednesday, September 30, 2026`;
                        // GSM-7 letters in an SMS.
                        "date" => {
                            len = Some(30);
                            free = false;
                        }
                        // `-999 999 999 999 999,99 €` (the symbol may take 2 septets).
                        "money" => {
                            len = Some(30);
                            free = false;
                        }
                        _ => len = None,
                    }
                }
                match len {
                    Some(l) => value(
                        l,
                        free.then(|| FreeText {
                            name: name.clone(),
                            start: *start,
                            end: *end,
                        }),
                    ),
                    None => Bound {
                        unbounded: vec![Unbounded {
                            name,
                            start: *start,
                            end: *end,
                        }],
                        ..Bound::default()
                    },
                }
            }
        }
    }

    /// Worst case of a template's output. `transliterate`: literal text is
    /// transliterated first (what the runtime does).
    pub fn bound(&self, out: &[Out], transliterate: bool) -> Bound {
        let mut b = Bound::default();
        for o in out {
            match o {
                Out::Text(t) => b.add(if transliterate {
                    literal(&sms::transliterate(t))
                } else {
                    literal(t)
                }),
                Out::Emit(e) => b.add(self.emit(e)),
                Out::Choice(branches) => {
                    let worst = branches
                        .iter()
                        .map(|br| self.bound(br, transliterate))
                        .fold(Bound::default(), Bound::max);
                    b.add(worst);
                }
                Out::Unbounded { start, end } => b.unbounded.push(Unbounded {
                    name: "this block".into(),
                    start: *start,
                    end: *end,
                }),
            }
        }
        b
    }
}
