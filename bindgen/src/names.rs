//! WIT's kebab-case names in each language's conventions.

/// `reply-to` → `reply_to`.
pub fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// `reply-to` → `REPLY_TO`.
pub fn shouty(name: &str) -> String {
    snake(name).to_uppercase()
}

/// `reply-to` → `ReplyTo`.
pub fn upper_camel(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// `reply-to` → `replyTo`.
pub fn lower_camel(name: &str) -> String {
    let upper = upper_camel(name);
    let mut c = upper.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `name` with `suffix` appended if it is one of `reserved`.
pub fn unreserved(name: String, reserved: &[&str], suffix: &str) -> String {
    if reserved.contains(&name.as_str()) {
        name + suffix
    } else {
        name
    }
}

/// Documentation as comment lines with `prefix` (`///`, ` *`, …).
pub fn doc_lines(docs: &Option<String>, indent: &str, prefix: &str) -> String {
    match docs {
        Some(d) => d
            .lines()
            .map(|l| {
                if l.is_empty() {
                    format!("{indent}{prefix}\n")
                } else {
                    format!("{indent}{prefix} {l}\n")
                }
            })
            .collect(),
        None => String::new(),
    }
}

/// Checks that no two WIT names become the same identifier: `names` pairs
/// each generated identifier with the WIT item it comes from.
pub fn distinct(lang: &str, names: Vec<(String, String)>) -> anyhow::Result<()> {
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (ident, item) in names {
        if let Some(first) = seen.get(&ident) {
            if *first != item {
                anyhow::bail!(
                    "{first} and {item} would both be `{ident}` in {lang}: rename one in the WIT"
                );
            }
        }
        seen.insert(ident, item);
    }
    Ok(())
}
