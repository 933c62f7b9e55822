//! SMS encoding and segmentation (3GPP TS 23.038 / 23.040), as carriers bill it.
//!
//! - GSM-7 when every character is in the default table or its extension
//!   table (extension characters cost 2 septets); otherwise the whole message
//!   is UCS-2, counted in UTF-16 code units.
//! - One part holds 160 septets / 70 units; concatenated parts hold 153 / 67
//!   (the 6-octet UDH).
//! - Parts are filled greedily with atomic units that never straddle a part
//!   boundary: an extension character's escape pair (GSM-7), and a grapheme
//!   cluster (UCS-2; falling back to code points when one cluster exceeds a
//!   whole part). `\r\n` counts as two characters, as Twilio counts it.
//!
//! Matches Twilio's `sms-segments-calculator` (the differential test in
//! `tests/e2e/sms_oracle.rs` compares both on the research vectors and on a
//! generated corpus).

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
    /// Units in a single-part message.
    pub fn single(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }
    /// Units per part of a concatenated message.
    pub fn multi(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
    pub fn unit_name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "septets",
            Encoding::Ucs2 => "UTF-16 units",
        }
    }
}

/// The GSM 03.38 default alphabet (1 septet each).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (2 septets each: ESC + code).
const EXTENDED: &str = "\u{000C}^{}\\[~]|€";

/// Septets a character costs in GSM-7, or `None` when it is not in GSM-7.
pub fn gsm_septets(c: char) -> Option<usize> {
    if c.is_ascii() {
        // Fast path: ASCII is GSM except ` (grave) and control characters.
        return match c {
            '\n' | '\r' => Some(1),
            '\u{000C}' => Some(2),
            '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' => Some(2),
            '`' => None,
            c if c.is_ascii_control() => None,
            _ => Some(1),
        };
    }
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// A closer GSM-7 replacement for a character outside GSM-7, when one exists.
pub fn gsm_replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' | '`' | '\u{00B4}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' => "\"",
        '\u{2026}' => "...",
        '\u{2013}' | '\u{2014}' | '\u{2012}' | '\u{2212}' | '\u{2010}' | '\u{2011}' => "-",
        '\u{2022}' | '\u{00B7}' => "-",
        '\u{00A0}' | '\u{202F}' | '\u{2009}' | '\u{2007}' | '\t' => " ",
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' => "",
        'ç' => "c",
        'â' | 'á' | 'ã' => "a",
        'ê' | 'ë' => "e",
        'î' | 'ï' | 'í' => "i",
        'ô' | 'ó' | 'õ' => "o",
        'û' | 'ú' => "u",
        'ÿ' => "y",
        'œ' => "oe",
        'Œ' => "OE",
        'À' | 'Â' | 'Á' | 'Ã' => "A",
        'È' | 'Ê' | 'Ë' => "E",
        'Î' | 'Ï' | 'Í' => "I",
        'Ô' | 'Ó' | 'Õ' => "O",
        'Ù' | 'Û' | 'Ú' => "U",
        'Ÿ' => "Y",
        '×' => "x",
        '\u{00AE}' => "(R)",
        '\u{00A9}' => "(C)",
        '\u{2122}' => "TM",
        _ => return None,
    })
}

/// Replace every character outside GSM-7 that has a look-alike (what
/// `transliterate: true` does at send time). Characters without one stay.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (gsm_septets(c), gsm_replacement(c)) {
            (None, Some(r)) => out.push_str(r),
            _ => out.push(c),
        }
    }
    out
}

/// A character that forces UCS-2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NonGsm {
    pub character: String,
    /// `U+00EA`.
    pub code_point: String,
    /// 1-based position in characters.
    pub position: usize,
    /// Byte offset in the text.
    #[serde(skip)]
    pub byte_offset: usize,
    pub replacement: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Characters as Twilio counts them (grapheme clusters, `\r\n` as two).
    pub characters: usize,
    pub segments: usize,
    /// Units in each part.
    pub parts: Vec<usize>,
    /// Units one part can hold (160/70 for one part, 153/67 when concatenated).
    pub per_segment: usize,
    /// Units left in the last part.
    pub remaining: usize,
    pub non_gsm: Vec<NonGsm>,
}

/// Atomic units of the text: (units, code points) per token.
fn tokens(text: &str, encoding: Encoding) -> Vec<usize> {
    if encoding == Encoding::Gsm7 {
        // Every GSM character is its own unit (and its own grapheme: the
        // alphabet has no combining marks), so no clustering is needed.
        return text.chars().map(|c| gsm_septets(c).unwrap_or(1)).collect();
    }
    let mut out = Vec::new();
    for g in text.graphemes(true) {
        // "\r\n" is one grapheme, but every peer counts two characters.
        let pieces: Vec<&str> = if g == "\r\n" { vec!["\r", "\n"] } else { vec![g] };
        for p in pieces {
            let units: usize = p.chars().map(char::len_utf16).sum();
            if units > Encoding::Ucs2.multi() {
                // A cluster larger than a part: split at code points.
                out.extend(p.chars().map(char::len_utf16));
            } else {
                out.push(units);
            }
        }
    }
    out
}

/// Greedy fill of parts of `capacity` units with atomic tokens.
fn split(tokens: &[usize], capacity: usize) -> Vec<usize> {
    let mut parts = vec![0usize];
    for &t in tokens {
        let last = parts.last().copied().unwrap_or(0);
        if last + t > capacity && last > 0 {
            parts.push(t);
        } else if let Some(p) = parts.last_mut() {
            *p += t;
        }
    }
    parts
}

pub fn analyze(text: &str) -> Analysis {
    let mut non_gsm = Vec::new();
    // In GSM-7, a text's units and characters, counted on the way (the
    // runner analyses every SMS it sends: no token list unless it splits).
    let (mut septets, mut chars) = (0, 0);
    for (i, (offset, c)) in text.char_indices().enumerate() {
        chars += 1;
        match gsm_septets(c) {
            Some(n) => septets += n,
            None => non_gsm.push(NonGsm {
                character: c.to_string(),
                code_point: format!("U+{:04X}", c as u32),
                position: i + 1,
                byte_offset: offset,
                replacement: gsm_replacement(c),
            }),
        }
    }
    let encoding = if non_gsm.is_empty() {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    };
    let (units, characters, toks) = match encoding {
        Encoding::Gsm7 => (septets, chars, None),
        Encoding::Ucs2 => {
            let toks = tokens(text, encoding);
            let characters = text.graphemes(true).map(|g| if g == "\r\n" { 2 } else { 1 }).sum();
            (toks.iter().sum(), characters, Some(toks))
        }
    };
    let (parts, per_segment) = if units <= encoding.single() {
        (vec![units], encoding.single())
    } else {
        let toks = toks.unwrap_or_else(|| tokens(text, encoding));
        (split(&toks, encoding.multi()), encoding.multi())
    };
    let remaining = per_segment.saturating_sub(parts.last().copied().unwrap_or(0));
    Analysis {
        encoding,
        units,
        characters,
        segments: parts.len(),
        parts,
        per_segment,
        remaining,
        non_gsm,
    }
}

/// Segments a text of `units` units would take, assuming no atomic unit
/// straddles a boundary (used for worst-case bounds of templates).
pub fn segments_for(units: usize, encoding: Encoding) -> usize {
    if units <= encoding.single() {
        1
    } else {
        units.div_ceil(encoding.multi())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> String {
        "1234567890".chars().cycle().take(n).collect()
    }

    #[test]
    fn gsm_single_and_concatenated() {
        let a = analyze(&digits(160));
        assert_eq!(
            (a.encoding, a.segments, a.units, a.remaining),
            (Encoding::Gsm7, 1, 160, 0)
        );
        let a = analyze(&digits(161));
        assert_eq!((a.segments, a.parts.clone(), a.per_segment), (2, vec![153, 8], 153));
        let a = analyze(&digits(307));
        assert_eq!(a.parts, vec![153, 153, 1]);
    }

    #[test]
    fn extension_characters_count_double_and_never_split() {
        for c in ['|', '^', '€', '{', '}', '[', ']', '~', '\\'] {
            let text = format!("{c}{}", digits(158));
            assert_eq!(analyze(&text).segments, 1, "{c}");
            let text = format!("{c}{}", digits(159));
            assert_eq!(analyze(&text).segments, 2, "{c}");
        }
        // An escape pair at septet 152 moves to the next part: 152 | 9.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(7));
        assert_eq!(analyze(&text).parts, vec![152, 9]);
        // 3 parts, where arithmetic would say 2.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(analyze(&text).parts, vec![152, 153, 1]);
        assert_eq!(analyze(&"€".repeat(80)).segments, 1);
        assert_eq!(analyze(&"€".repeat(81)).parts, vec![152, 10]);
    }

    #[test]
    fn upper_case_c_cedilla_only() {
        assert_eq!(analyze("Ç").encoding, Encoding::Gsm7);
        let a = analyze("Reçu ! Votre commande est prête.");
        assert_eq!(a.encoding, Encoding::Ucs2);
        let chars: Vec<&str> = a.non_gsm.iter().map(|n| n.character.as_str()).collect();
        assert_eq!(chars, ["ç", "ê"]);
        assert_eq!(a.non_gsm[0].position, 3);
        assert_eq!(a.non_gsm[0].replacement, Some("c"));
    }

    #[test]
    fn ucs2_counts_utf16_units_and_keeps_graphemes_whole() {
        let text = format!("😜{}", &digits(70)[1..69]);
        let a = analyze(&text);
        assert_eq!((a.encoding, a.units, a.segments), (Encoding::Ucs2, 70, 1));
        let text = format!("😜{}", &digits(71)[1..70]);
        assert_eq!(analyze(&text).segments, 2);
        // A flag (two regional indicators, 4 units) is never cut: 65 | 67 | 2.
        let text = format!("{}🇮🇹{}", "a".repeat(65), "a".repeat(65));
        assert_eq!(analyze(&text).parts, vec![65, 67, 2]);
        assert_eq!(analyze(&"☃".repeat(71)).parts, vec![67, 4]);
        let text = format!("{}🐳{}", "☃".repeat(66), "☃".repeat(3));
        assert_eq!(analyze(&text).parts, vec![66, 5]);
    }

    #[test]
    fn line_breaks_and_empty_text() {
        assert_eq!(analyze("\rabcde\r\n123").characters, 11);
        let empty = analyze("");
        assert_eq!((empty.encoding, empty.segments, empty.units), (Encoding::Gsm7, 1, 0));
    }

    #[test]
    fn transliteration_removes_what_it_can() {
        assert_eq!(transliterate("C’est prêt… «ok»"), "C'est pret... \"ok\"");
        assert_eq!(analyze(&transliterate("Noël, façon été")).encoding, Encoding::Gsm7);
        assert_eq!(transliterate("😀"), "😀");
    }
}
