//! A large, valid, deterministic plan: ~1,000 messages, 300 scenarios,
//! 200 campaigns, 200 segments, about 10,000 YAML lines.

use std::fmt::Write;

pub const CONFIG: &str = "[project]\nname = \"bench\"\ntimezone = \"Europe/Paris\"\n";
const HEADER: &str = "# yaml-language-server: $schema=../../schema/herald.schema.json\n";

pub struct Shape {
    pub segments: usize,
    pub messages: usize,
    pub scenarios: usize,
    pub campaigns: usize,
}

pub const DEFAULT: Shape = Shape {
    segments: 200,
    messages: 1000,
    scenarios: 300,
    campaigns: 200,
};

/// (relative path, contents) of every file of the plan.
pub fn files(shape: &Shape) -> Vec<(String, String)> {
    let mut out = vec![("herald.toml".to_string(), CONFIG.to_string())];
    let mut contact = String::from(HEADER);
    contact.push_str("contact:\n  fields:\n");
    contact.push_str("    email: { type: email }\n    phone: { type: phone, optional: true }\n");
    contact.push_str("    first_name: { type: string, optional: true, max_length: 20 }\n");
    contact.push_str("    region: { type: enum, values: [IDF, PACA, ARA, OCC, NAQ, HDF, GES, BRE] }\n");
    contact.push_str("    interests: { type: list, of: string }\n");
    contact.push_str("    last_purchase_at: { type: datetime, optional: true }\n");
    contact.push_str("    birthdate: { type: date, optional: true }\n");
    for i in 0..20 {
        let _ = writeln!(contact, "    score_{i}: {{ type: number }}");
    }
    contact.push_str("  consents:\n    email_marketing: { channel: email }\n");
    contact
        .push_str("    sms_marketing: { channel: sms, double_opt_in: true }\n    push_marketing: { channel: push }\n");
    contact.push_str("  events:\n");
    for i in 0..10 {
        let _ = writeln!(
            contact,
            "    event_{i}: {{ properties: {{ value: number, label: string }} }}"
        );
    }
    contact.push_str("programs:\n");
    for i in 0..10 {
        let _ = writeln!(
            contact,
            "  program_{i}: {{ objective: \"Objective number {i} of the benchmark plan.\" }}"
        );
    }
    out.push(("contact.yaml".into(), contact));

    let mut segments = String::from(HEADER);
    segments.push_str("segments:\n");
    for i in 0..shape.segments {
        let _ = writeln!(segments, "  segment_{i}:");
        let _ = writeln!(segments, "    description: Segment {i} of the benchmark.");
        let base = format!(
            "score_{} >= {} and region in [\"IDF\", \"PACA\"] and last_purchase_at within {}d",
            i % 20,
            i * 3,
            30 + i % 200
        );
        if i > 0 && i % 3 == 0 {
            let _ = writeln!(segments, "    where: segment(segment_{}) and ({base})", i / 2);
        } else {
            let _ = writeln!(segments, "    where: {base} and \"shoes\" in interests");
        }
    }
    out.push(("segments.yaml".into(), segments));

    let per_file = 100;
    for chunk in 0..shape.messages.div_ceil(per_file) {
        let mut m = String::from(HEADER);
        m.push_str("messages:\n");
        for i in chunk * per_file..((chunk + 1) * per_file).min(shape.messages) {
            let _ = writeln!(m, "  message_{i}:");
            match i % 5 {
                0 | 1 => {
                    m.push_str("    channel: email\n    purpose: marketing\n");
                    let _ = writeln!(
                        m,
                        "    subject: \"Offer {i} for {{{{ contact.first_name | default('you') }}}}\""
                    );
                    let _ = writeln!(m, "    preheader: \"Preview text {i}\"");
                    let _ = writeln!(
                        m,
                        "    body: \"<p>Hello {{{{ contact.first_name | default('') }}}}, offer {i}.</p><a href='{{{{ unsubscribe_url }}}}'>Unsubscribe</a>\""
                    );
                }
                2 | 3 => {
                    m.push_str("    channel: sms\n    purpose: marketing\n    sender: BenchShop\n");
                    let _ = writeln!(
                        m,
                        "    text: \"BenchShop: offer {i}, -20% with code B{i}. STOP au 36111\""
                    );
                }
                _ => {
                    m.push_str("    channel: push\n    purpose: marketing\n");
                    let _ = writeln!(m, "    title: \"Offer {i}\"");
                    let _ = writeln!(m, "    body: \"Open the app for offer {i}\"");
                }
            }
        }
        out.push((format!("messages/messages_{chunk}.yaml"), m));
    }

    let mut s = String::from(HEADER);
    s.push_str("scenarios:\n");
    for i in 0..shape.scenarios {
        let email = (i * 5) % shape.messages;
        let sms = (i * 5 + 2) % shape.messages;
        let _ = writeln!(s, "  scenario_{i}:");
        let _ = writeln!(s, "    program: program_{}", i % 10);
        let _ = writeln!(
            s,
            "    trigger: {{ event: event_{}, where: event.value >= {} }}",
            i % 10,
            i % 100
        );
        let _ = writeln!(
            s,
            "    audience: consent(email_marketing) and segment(segment_{})",
            i % shape.segments.max(1)
        );
        s.push_str("    reentry: after 30d\n");
        let _ = writeln!(s, "    exit_when: count(event_{}, 7d) >= 1", (i + 1) % 10);
        s.push_str("    steps:\n");
        let _ = writeln!(s, "      - send: message_{email}");
        s.push_str("      - wait: 2d\n");
        let _ = writeln!(s, "      - if: not opened(message_{email}) and consent(sms_marketing)");
        s.push_str("        then:\n");
        let _ = writeln!(s, "          - send: message_{sms}");
    }
    out.push(("scenarios.yaml".into(), s));

    let mut c = String::from(HEADER);
    c.push_str("campaigns:\n");
    for i in 0..shape.campaigns {
        let msg = (i * 5 + 1) % shape.messages;
        let _ = writeln!(c, "  campaign_{i}:");
        let _ = writeln!(c, "    program: program_{}", i % 10);
        let _ = writeln!(
            c,
            "    audience: segment(segment_{}) and consent(email_marketing)",
            (i * 7) % shape.segments.max(1)
        );
        let _ = writeln!(c, "    message: message_{msg}");
        let _ = writeln!(c, "    send_at: 2027-{:02}-{:02}T10:00", 1 + i % 12, 1 + i % 28);
        let _ = writeln!(c, "    tags: [tag_{}]", i % 7);
    }
    out.push(("campaigns.yaml".into(), c));
    out
}
