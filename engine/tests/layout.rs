//! The engine's layout, read from its source: `formats` (reading files) knows neither `pdf`
//! nor `convert`; `pdf` and `convert` do not know each other; and no file's module reaches,
//! through the paths it names, back to itself. The paths are read from the code (not its
//! comments or its unit tests): `crate::`, `super::` and `self::` paths, `use` groups, and a
//! parent module's own children by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every source file of the crate, by its module path (`lib.rs` is the empty path).
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut module: Module = relative
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            found.insert(module, code_of(&text));
        }
    }
    found
}

/// The text without comments and without the unit tests at the end of the file.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut rest = text;
    while let Some(line) = rest.split_inclusive('\n').next() {
        rest = &rest[line.len()..];
        if line.trim_start().starts_with("#[cfg(test)]") && opens_the_tests(rest) {
            break;
        }
        let line = line.trim_end_matches('\n');
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Whether the text after a `#[cfg(test)]` line opens the tests module (`mod tests`, with
/// any visibility).
fn opens_the_tests(after: &str) -> bool {
    let after = after.trim_start();
    let after = match after.strip_prefix("pub") {
        Some(visible) => visible
            .split_once(')')
            .map_or(visible, |(_, rest)| rest)
            .trim_start(),
        None => after,
    };
    after.starts_with("mod tests")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths written at `text[at..]`: one, or a `use` group's several, each as segments.
fn paths_at(text: &str, mut at: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = text.as_bytes();
    let mut path = prefix;
    loop {
        let start = at;
        while at < bytes.len() && is_ident(bytes[at] as char) {
            at += 1;
        }
        if at > start {
            path.push(text[start..at].to_string());
        }
        if text[at..].starts_with("::{") {
            at += 3;
            loop {
                while at < bytes.len() && (bytes[at] as char).is_whitespace() {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return at + 1;
                }
                at = paths_at(text, at, path.clone(), out);
                while at < bytes.len() && bytes[at] != b',' && bytes[at] != b'}' {
                    at += 1;
                }
                if at < bytes.len() && bytes[at] == b',' {
                    at += 1;
                }
            }
        }
        if text[at..].starts_with("::") {
            at += 2;
            continue;
        }
        out.push(path);
        return at;
    }
}

/// The modules `module`'s code names.
fn uses(module: &Module, code: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let children: Vec<&String> = known
        .iter()
        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
        .filter_map(|m| m.last())
        .collect();
    let mut named = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    for (i, &(at, _)) in chars.iter().enumerate() {
        // Inside a longer path (`super::super::`, `a::self::`), or a visibility's.
        if i > 0 && is_ident(chars[i - 1].1)
            || code[..at].ends_with("::")
            || code[..at].ends_with("(in ")
        {
            continue;
        }
        let rest = &code[at..];
        let mut base = None;
        for start in ["crate::", "super::", "self::"] {
            if rest.starts_with(start) {
                base = Some(start);
            }
        }
        let mut paths = Vec::new();
        match base {
            Some("crate::") => {
                paths_at(code, at + 7, Vec::new(), &mut paths);
            }
            Some("super::") | Some("self::") => {
                let mut here = module.clone();
                let mut from = at;
                while code[from..].starts_with("super::") {
                    here.pop();
                    from += 7;
                }
                if code[from..].starts_with("self::") {
                    from += 6;
                }
                paths_at(code, from, here, &mut paths);
            }
            _ => {
                for child in &children {
                    let name = format!("{child}::");
                    if rest.starts_with(&name) {
                        paths_at(code, at, module.clone(), &mut paths);
                    }
                }
            }
        }
        for path in paths {
            // The longest prefix that is a module of the crate.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p));
            if let Some(target) = target
                && &target != module
            {
                named.push(target);
            }
        }
    }
    named.into_iter().collect()
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, code)| (module.clone(), uses(module, code, &known)))
        .collect()
}

fn name(module: &Module) -> String {
    match module.is_empty() {
        true => "(crate root)".into(),
        false => module.join("::"),
    }
}

fn under(module: &Module, part: &str) -> bool {
    module.first().map(String::as_str) == Some(part)
}

#[test]
fn formats_knows_neither_engine_and_the_engines_do_not_know_each_other() {
    let graph = graph();
    assert!(
        graph.keys().any(|m| under(m, "formats")),
        "no formats module"
    );
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            let refused = (under(from, "formats")
                && (under(to, "pdf") || under(to, "convert") || under(to, "into_pdf")))
                || (under(from, "pdf") && (under(to, "convert") || under(to, "into_pdf")))
                || (under(from, "convert") && (under(to, "pdf") || under(to, "into_pdf")));
            if refused {
                wrong.push(format!("{} uses {}", name(from), name(to)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_module_reaches_back_to_itself() {
    let graph = graph();
    // Depth-first, three colours: a grey module met again is a circle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Grey,
        Black,
    }
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(module) {
            Some(Mark::Black) => return None,
            Some(Mark::Grey) => {
                let from = stack.iter().position(|m| m == module).unwrap_or(0);
                let mut circle = stack[from..].to_vec();
                circle.push(module.clone());
                return Some(circle);
            }
            None => {}
        }
        marks.insert(module.clone(), Mark::Grey);
        stack.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, marks, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        marks.insert(module.clone(), Mark::Black);
        None
    }
    let mut marks = BTreeMap::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut marks, &mut Vec::new()) {
            let names: Vec<String> = circle.iter().map(name).collect();
            panic!("an import circle: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_checks_see_the_paths_a_file_names() {
    let known: BTreeSet<Module> = [
        vec![],
        vec!["formats".to_string()],
        vec!["formats".to_string(), "png".to_string()],
        vec!["formats".to_string(), "limits".to_string()],
        vec!["pdf".to_string()],
        vec!["pdf".to_string(), "objects".to_string()],
    ]
    .into_iter()
    .collect();
    let pdf = vec!["pdf".to_string()];
    let code = code_of(
        "use crate::formats::{Limits, png::{self, Plan}};\n\
         // crate::convert in a comment\n\
         #[cfg(test)]\nfn helper() {}\n\
         fn f() { objects::write(); }\n\
         #[cfg(test)]\npub(in crate::pdf) mod tests { use crate::formats::limits; }\n",
    );
    let named = uses(&pdf, &code, &known);
    let names: Vec<String> = named.iter().map(name).collect();
    assert_eq!(names, ["formats", "formats::png", "pdf::objects"]);
    let png = vec!["formats".to_string(), "png".to_string()];
    let named = uses(
        &png,
        "use super::limits::Limits; super::super::pdf::x();",
        &known,
    );
    let names: Vec<String> = named.iter().map(name).collect();
    assert_eq!(names, ["formats::limits", "pdf"]);
}
