//! `segments:` → [`Segment`]s, and cycles between them.

use super::typeck::Scope;
use super::{Ctx, Names};
use crate::ast::Documents;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ContactModel, Segment};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

pub fn segments(cx: &mut Ctx, docs: &Documents, contact: &ContactModel, names: &Names) -> BTreeMap<String, Segment> {
    let mut out = BTreeMap::new();
    let mut deps: BTreeMap<String, Vec<(String, Span)>> = BTreeMap::new();
    for decl in cx.unique(&docs.segments, "segment") {
        let scope = Scope {
            contact,
            segments: &names.segments,
            messages: &names.messages,
            event: None,
            place: "a segment",
            broken: &names.broken,
        };
        if let Some((condition, refs)) = cx.condition(&decl.doc.condition, scope) {
            deps.insert(decl.name.value.clone(), refs);
            out.insert(
                decl.name.value.clone(),
                Segment {
                    condition,
                    description: decl.doc.description.clone(),
                    span: decl.name.span,
                },
            );
        }
    }
    for cycle in find_cycles(&deps) {
        report(cx, &cycle);
        for (name, _) in &cycle {
            out.remove(name);
        }
    }
    // A segment built on a segment left out (reported there) is left out
    // too, silently: one mistake, one error.
    loop {
        let missing: Vec<String> = out
            .keys()
            .filter(|n| {
                deps.get(*n)
                    .is_some_and(|refs| refs.iter().any(|(r, _)| !out.contains_key(r)))
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        for m in missing {
            out.remove(&m);
        }
    }
    out
}

/// Each cycle once, as the list of (segment, span of its call to the next one),
/// starting from its alphabetically first segment.
fn find_cycles(deps: &BTreeMap<String, Vec<(String, Span)>>) -> Vec<Vec<(String, Span)>> {
    let mut cycles = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in deps.keys() {
        if done.contains(start.as_str()) {
            continue;
        }
        // Iterative DFS keeping the path; a back edge to the path is a cycle.
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        let mut on_path: BTreeSet<&str> = BTreeSet::from([start.as_str()]);
        while let Some((node, i)) = path.last().copied() {
            let edges = deps.get(node).map(Vec::as_slice).unwrap_or(&[]);
            let Some((next, _)) = edges.get(i) else {
                on_path.remove(node);
                done.insert(node);
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            let next = next.as_str();
            if on_path.contains(next) {
                let pos = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                let members: Vec<(String, Span)> = path[pos..]
                    .iter()
                    .map(|(n, idx)| {
                        let span = deps
                            .get(*n)
                            .and_then(|e| e.get(idx - 1))
                            .map(|(_, s)| *s)
                            .unwrap_or_default();
                        (n.to_string(), span)
                    })
                    .collect();
                let min = members
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.0.cmp(&b.1.0))
                    .map_or(0, |(i, _)| i);
                let mut rotated = members[min..].to_vec();
                rotated.extend_from_slice(&members[..min]);
                if !cycles.contains(&rotated) {
                    cycles.push(rotated);
                }
            } else if !done.contains(next) && deps.contains_key(next) {
                on_path.insert(next);
                path.push((next, 0));
            }
        }
    }
    cycles
}

fn report(cx: &mut Ctx, cycle: &[(String, Span)]) {
    let Some((first, first_call)) = cycle.first() else {
        return;
    };
    let chain: Vec<&str> = cycle.iter().map(|(n, _)| n.as_str()).chain([first.as_str()]).collect();
    let mut d = Diagnostic::new(
        Code::ReferenceSegmentCycle,
        if cycle.len() == 1 {
            format!("segment `{first}` refers to itself")
        } else {
            format!("segments refer to each other in a cycle: {}", chain.join(" → "))
        },
    )
    .at(
        *first_call,
        format!("`{first}` uses `{}` here", chain.get(1).unwrap_or(&first.as_str())),
    )
    .help("Break the cycle: write the shared condition once, in a segment that does not refer back.");
    for (i, (name, call)) in cycle.iter().enumerate().skip(1) {
        let next = chain.get(i + 1).unwrap_or(&"");
        d = d.related(*call, format!("`{name}` uses `{next}` here"));
    }
    cx.diags.push(d);
}
