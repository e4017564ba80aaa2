//! The house rules, read from the source: the top-level modules use each other only in
//! the documented direction (`ARCHITECTURE.md`), sibling files within a module never
//! import each other in a circle, and nothing outside the layer registry matches on
//! layer kinds with a wildcard arm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the ones it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("keras", &[]),
    ("viz", &[]),
    ("progress", &[]),
    ("kernels", &["keras"]),
    ("layers", &["keras", "kernels"]),
    ("model", &["keras", "layers"]),
    (
        "engine",
        &["keras", "kernels", "layers", "model", "progress"],
    ),
    (
        "explain",
        &["keras", "kernels", "layers", "model", "engine", "progress"],
    ),
    ("visualize", &["keras", "model", "engine", "progress"]),
    ("train", &["keras", "layers", "model", "engine", "progress"]),
    ("io", &["keras", "layers", "model", "progress"]),
    ("compare", &["keras", "layers", "model", "io"]),
    (
        "runner",
        &[
            "keras",
            "layers",
            "model",
            "engine",
            "explain",
            "visualize",
            "train",
            "io",
            "progress",
            "viz",
        ],
    ),
    (
        "cli",
        &[
            "keras",
            "layers",
            "model",
            "engine",
            "explain",
            "visualize",
            "train",
            "io",
            "progress",
            "runner",
            "viz",
            "compare",
        ],
    ),
    (
        "app",
        &[
            "keras",
            "layers",
            "model",
            "engine",
            "explain",
            "visualize",
            "train",
            "io",
            "progress",
            "runner",
            "viz",
            "compare",
        ],
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/layers/conv2d.rs` → `["layers", "conv2d"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without comments (doc links name modules they do not use) and
/// without its test module.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers that follow `prefix` (`crate::` → `keras`, `layers`, ...), including
/// the ones in a `prefix{a, b::c}` group.
fn after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let id: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !id.is_empty() {
                    out.push(id);
                }
            }
        } else {
            let id: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !id.is_empty() {
                out.push(id);
            }
        }
    }
    out
}

#[test]
fn top_level_modules_depend_only_downwards() {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut bad = Vec::new();
    for f in &all {
        let m = module_of(f);
        let Some(top) = m.first() else { continue };
        let Some(ok) = allowed.get(top.as_str()) else {
            continue;
        };
        for used in after(&code(f), "crate::") {
            let is_module = allowed.contains_key(used.as_str());
            if is_module && used != *top && !ok.contains(&used.as_str()) {
                bad.push(format!("{} uses crate::{used}", f.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the flow:\n{}",
        bad.join("\n")
    );
}

#[test]
fn sibling_modules_do_not_import_each_other_in_a_circle() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let modules: BTreeSet<Vec<String>> = all.iter().map(|f| module_of(f)).collect();
    // Edges between siblings (children of the same parent), from `super::x` and
    // `crate::parent::x`.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in &all {
        let m = module_of(f);
        if m.len() < 2 {
            continue;
        }
        let parent = m[..m.len() - 1].to_vec();
        let code = code(f);
        let mut used = after(&code, "super::");
        let crate_parent = format!("crate::{}::", parent.join("::"));
        used.extend(after(&code, &crate_parent));
        for u in used {
            let mut sibling = parent.clone();
            sibling.push(u);
            if sibling != m && modules.contains(&sibling) {
                edges.entry(m.clone()).or_default().insert(sibling);
            }
        }
    }
    // Any cycle?
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(p) = stack.iter().position(|x| x == n) {
            return Some(stack[p..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.clone());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(cycle) = visit(n, &edges, &mut Vec::new(), &mut done) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import circle: {}", names.join(" -> "));
        }
    }
    // The checker sees real edges (it would miss circles if it saw none).
    assert!(edges.values().map(BTreeSet::len).sum::<usize>() > 20);
}

/// A `match` over layer kinds with a `_ =>` arm compiles when a kind is forgotten: only
/// the registry (which generates its matches from the list) may match on `LayerKind`.
#[test]
fn no_wildcard_arms_over_layer_kinds_outside_the_registry() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut bad = Vec::new();
    for f in &all {
        if f.ends_with("layers/registry.rs") || f.ends_with("layers/mod.rs") {
            continue;
        }
        let code = code(f);
        // A match whose arms name LayerKind variants and that also has a wildcard.
        for (i, _) in code.match_indices("match ") {
            let body = &code[i..];
            let Some(open) = body.find('{') else { continue };
            let mut depth = 0;
            let mut end = open;
            for (k, c) in body[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let arms = &body[open..end];
            if arms.contains("LayerKind::") && arms.contains("_ =>") {
                bad.push(f.display().to_string());
            }
        }
    }
    assert!(
        bad.is_empty(),
        "wildcard arms over LayerKind in:\n{}",
        bad.join("\n")
    );
}
