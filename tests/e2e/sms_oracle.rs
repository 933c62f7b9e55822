//! Herald's SMS counts against Twilio's public calculator (npm
//! `sms-segments-calculator`, run by `tests/sms-oracle/oracle.js`) and against
//! the research vectors. `scripts/test` installs the oracle (`npm ci`).

use super::*;
use herald_compiler::sms;
use std::io::Write;
use std::process::Stdio;

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Verdict {
    encoding: String,
    segments: usize,
    units: f64,
}

fn oracle_dir() -> PathBuf {
    repo().join("tests/sms-oracle")
}

/// Twilio's verdicts for `texts`, in order.
fn oracle(texts: &[String]) -> Vec<Verdict> {
    assert!(
        oracle_dir().join("node_modules/sms-segments-calculator").exists(),
        "the SMS oracle is not installed: run `npm ci --prefix tests/sms-oracle` (scripts/test does)"
    );
    let mut child = Command::new("node")
        .arg(oracle_dir().join("oracle.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is needed for the SMS oracle");
    let mut input = String::new();
    for t in texts {
        input.push_str(&serde_json::to_string(t).unwrap());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn herald_verdict(text: &str) -> Verdict {
    let a = sms::analyze(text);
    Verdict {
        encoding: a.encoding.as_str().to_string(),
        segments: a.segments,
        units: a.units as f64,
    }
}

#[derive(serde::Deserialize)]
struct Vector {
    id: String,
    encoding: String,
    segments: usize,
    text: String,
    septets: Option<usize>,
    utf16_units: Option<usize>,
    units_remaining: Option<usize>,
}

#[test]
fn research_vectors() {
    let text = std::fs::read_to_string(oracle_dir().join("vectors.jsonl")).unwrap();
    let vectors: Vec<Vector> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(vectors.len(), 80);
    for v in &vectors {
        let a = sms::analyze(&v.text);
        assert_eq!(a.encoding.as_str(), v.encoding, "{}", v.id);
        assert_eq!(a.segments, v.segments, "{}", v.id);
        if let Some(s) = v.septets.or(v.utf16_units) {
            assert_eq!(a.units, s, "{}", v.id);
        }
        if let Some(r) = v.units_remaining {
            assert_eq!(a.remaining, r, "{}", v.id);
        }
    }
    let twilio = oracle(&vectors.iter().map(|v| v.text.clone()).collect::<Vec<_>>());
    for (v, t) in vectors.iter().zip(&twilio) {
        assert_eq!(herald_verdict(&v.text), *t, "{}", v.id);
    }
}

// A reproducible corpus.
use herald_compiler::rng::SplitMix64 as Rng;

/// Pieces texts are built from: GSM-7, its extension table, French letters
/// outside GSM-7, typography, emoji (with modifiers, ZWJ sequences, flags),
/// CJK, combining marks and line breaks.
const PIECES: &[&str] = &[
    "a",
    "b",
    "Z",
    "0",
    "7",
    " ",
    ".",
    ",",
    "!",
    "?",
    "-",
    ":",
    "%",
    "'",
    "\"",
    "@",
    "£",
    "$",
    "_",
    "#",
    "&",
    "/",
    "é",
    "è",
    "à",
    "ù",
    "ì",
    "ò",
    "Ç",
    "Ø",
    "å",
    "Δ",
    "Ω",
    "ß",
    "É",
    "Ñ",
    "ü",
    "§",
    "¿",
    "¡",
    "¤",
    "\n",
    "\r",
    "\r\n",
    "€",
    "[",
    "]",
    "{",
    "}",
    "~",
    "^",
    "|",
    "\\",
    "\u{c}",
    "ç",
    "ê",
    "â",
    "î",
    "ô",
    "û",
    "ë",
    "ï",
    "œ",
    "’",
    "«",
    "»",
    "…",
    "–",
    "\u{a0}",
    "\u{202f}",
    "\t",
    "`",
    "😀",
    "😜",
    "🐳",
    "👍🏽",
    "👨\u{200d}👩\u{200d}👧",
    "🇫🇷",
    "🇮🇹",
    "🏳\u{fe0f}\u{200d}🌈",
    "☃",
    "中",
    "文",
    "ア",
    "Ж",
    "e\u{301}",
    "a\u{301}\u{301}",
    "ı",
    "Ğ",
    "\u{1b}",
];

fn corpus(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        // Mostly near the segment boundaries, where counting errors show.
        let len = match rng.index(4) {
            0 => rng.index(20),
            1 => 60 + rng.index(20),
            2 => 145 + rng.index(25),
            _ => 290 + rng.index(40),
        };
        // Each text leans on a few pieces, so GSM-only texts are common too.
        let gsm_only = rng.index(3) == 0;
        let mut s = String::new();
        for _ in 0..len {
            let p = if gsm_only {
                PIECES[rng.index(54)]
            } else {
                PIECES[rng.index(PIECES.len())]
            };
            s.push_str(p);
        }
        out.push(s);
    }
    out
}

#[test]
fn generated_corpus_agrees_with_twilio() {
    let texts = corpus(20_000, 0x5EED);
    let twilio = oracle(&texts);
    assert_eq!(twilio.len(), texts.len());
    let mut disagreements = Vec::new();
    for (text, t) in texts.iter().zip(&twilio) {
        let h = herald_verdict(text);
        if h != *t {
            disagreements.push(format!("{text:?}: herald {h:?}, twilio {t:?}"));
        }
    }
    let agree = texts.len() - disagreements.len();
    eprintln!(
        "SMS differential: {agree}/{} texts agree with Twilio's calculator",
        texts.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first: {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );
}

#[test]
fn cli_reports_encoding_segments_and_characters() {
    let (code, out, _) = run(herald().args(["sms", "--json", "Reçu ! Votre commande est prête."]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["encoding"], "UCS-2");
    assert_eq!(v["segments"], 1);
    assert_eq!(v["units"], 32);
    assert_eq!(v["non_gsm"][0]["character"], "ç");
    assert_eq!(v["non_gsm"][0]["position"], 3);
    assert_eq!(v["non_gsm"][0]["replacement"], "c");
    let mut child = herald()
        .args(["sms", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("-50% ce weekend STOP au 36111\n".as_bytes())
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    insta::assert_snapshot!(out);
}
