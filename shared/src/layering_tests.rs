//! The crate's modules form layers: no module reaches, through its imports, back to itself,
//! and the pure rules (`vault`) import nothing but the domain, the error codes and the
//! settings. Read from the sources, so a new `use` that closes a circle fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code (not its comments) names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let first = rel.components().next().expect("component");
            let name = first.as_os_str().to_string_lossy();
            let module = name
                .trim_end_matches(".rs")
                .trim_end_matches("_tests")
                .to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let targets = graph.entry(module.clone()).or_default();
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or_default();
                for (i, _) in code.match_indices("crate::") {
                    let rest = &code[i + "crate::".len()..];
                    let target: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !target.is_empty() && target != module {
                        targets.insert(target);
                    }
                }
            }
        }
    }
    graph
}

/// A path of imports from `from` back to `from`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if next == from {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_imports_itself_through_others() {
    let graph = imports();
    assert!(
        graph.contains_key("vault") && graph.contains_key("db"),
        "{graph:?}"
    );
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|m| circle(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_rules_sit_below_the_database() {
    let graph = imports();
    let allowed: BTreeSet<String> = ["domain", "error", "config"].map(String::from).into();
    let vault = &graph["vault"];
    assert!(vault.is_subset(&allowed), "vault imports {vault:?}");
    assert!(
        graph["db"].contains("vault"),
        "db maps rows into the rules' types"
    );
}

#[test]
fn the_check_sees_a_circle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(
        circle(&graph, "a").map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_owned())
    );
    assert_eq!(circle(&graph, "z"), None);
}
