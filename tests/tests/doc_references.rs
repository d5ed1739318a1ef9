//! The docs point only at sections that exist: every `README's "X"` and
//! `` `abi/README.md`, "X" `` in the sources names a heading that begins
//! with X, and every `(#anchor)` link in a README names one of its
//! headings.

use std::path::Path;

/// The headings of a markdown file (not `#` lines inside fenced code).
fn headings(path: &Path) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(line.trim_start_matches('#').trim().to_string());
        }
    }
    out
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Source text with comment prefixes removed and lines joined, so a quoted
/// section name broken across comment lines reads whole.
fn flattened(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.trim_start();
            ["//!", "///", "//", "/*", "*"]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .unwrap_or(l)
                .trim()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The quoted names after each `marker` in `text`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = text[at + marker.len()..].strip_prefix('"')?;
            rest.split_once('"').map(|(name, _)| name)
        })
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !["target", "node_modules", ".git"].contains(&name.as_str()) {
                sources(&path, out);
            }
        } else if [".rs", ".h", ".c", ".ts"].iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

#[test]
fn every_section_the_docs_name_exists() {
    let root = vm_tests::root();
    let readme = headings(&root.join("README.md"));
    let abi = headings(&root.join("abi/README.md"));
    let mut files = Vec::new();
    for dir in [
        "sdk-rust",
        "sdk-rust-macros",
        "sdk-c",
        "sdk-assemblyscript/assembly",
        "kernel/src",
        "cluster/src",
        "vm-reference/src",
        "vm-plugin/src",
        "abi/src",
        "bindgen/src",
    ] {
        sources(&root.join(dir), &mut files);
    }
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = flattened(&std::fs::read_to_string(file).unwrap());
        for (marker, heads) in [
            ("README's ", &readme),
            ("`README.md`, ", &readme),
            ("`abi/README.md`, ", &abi),
            ("abi/README.md, ", &abi),
        ] {
            for name in quoted_after(&text, marker) {
                checked += 1;
                if name.trim().is_empty() || !heads.iter().any(|h| h.starts_with(name)) {
                    missing.push(format!("{}: {marker}\"{name}\"", file.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "sections that do not exist:\n{}",
        missing.join("\n")
    );
    assert!(
        checked >= 3,
        "found only {checked} references: the pattern broke"
    );
}

#[test]
fn every_anchor_link_in_a_readme_names_a_heading() {
    let root = vm_tests::root();
    let mut links = 0;
    for readme in ["README.md", "abi/README.md"] {
        let path = root.join(readme);
        let anchors: Vec<String> = headings(&path).iter().map(|h| slug(h)).collect();
        assert!(
            anchors.len() > 10,
            "{readme}: only {} headings found",
            anchors.len()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("](#") {
            let anchor = text[at + 3..].split(')').next().unwrap();
            links += 1;
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{readme} links to #{anchor}, which no heading makes"
            );
        }
    }
    assert!(
        links >= 2,
        "found only {links} anchor links: the pattern broke"
    );
}
