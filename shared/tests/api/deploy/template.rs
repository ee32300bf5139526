//! `template.yaml` against the code: its functions are the crates under `functions/`, its
//! HTTP routes are the router table's (and so `openapi.yaml`'s, see `openapi::routes`), every
//! function but `migrate` has sample events in `events/`, runs after the migrations and has
//! its alarm. Read line by line: the template's `!Ref` tags are not plain YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::routes::cargo_router;
use crate::support::services::events_dir;

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Default)]
struct Function {
    logical_id: String,
    binary: String,
    depends_on: Option<String>,
    routes: Vec<(String, String)>,
}

fn template() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    std::fs::read_to_string(path).expect("template.yaml")
}

fn functions(text: &str) -> Vec<Function> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if lines.get(i + 1).map(|l| l.trim_end()) != Some("    Type: AWS::Serverless::Function") {
            continue;
        }
        let mut f = Function {
            logical_id: line.trim().trim_end_matches(':').to_owned(),
            ..Function::default()
        };
        let mut method = None;
        // The block runs to the next resource (two-space indent).
        for l in lines[i + 2..].iter().take_while(|l| !is_resource_start(l)) {
            let t = l.trim();
            if let Some(v) = t.strip_prefix("Binary: ") {
                f.binary = v.to_owned();
            } else if let Some(v) = t.strip_prefix("DependsOn: ") {
                f.depends_on = Some(v.to_owned());
            } else if let Some(v) = t.strip_prefix("Method: ") {
                method = Some(v.to_owned());
            } else if let Some(v) = t.strip_prefix("Path: ") {
                f.routes
                    .push((method.take().expect("Method before Path"), v.to_owned()));
            }
        }
        out.push(f);
    }
    out
}

fn is_resource_start(line: &str) -> bool {
    line.len() > 2 && line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':')
}

#[test]
fn template_functions_are_the_crates_the_routes_the_events_and_the_alarms() {
    let text = template();
    let fns = functions(&text);
    let crates: BTreeSet<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions"))
            .expect("functions/")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    let binaries: BTreeSet<String> = fns.iter().map(|f| f.binary.clone()).collect();
    assert_eq!(binaries, crates, "template functions vs functions/ crates");

    let mut routed: BTreeMap<(String, String), String> = BTreeMap::new();
    for f in &fns {
        // One name everywhere: the logical id is the crate's name in camelCase.
        let camel: String = f
            .binary
            .split('-')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    w[..1].to_ascii_uppercase() + &w[1..]
                }
            })
            .collect();
        assert_eq!(f.logical_id, camel, "logical id of {}", f.binary);
        for (method, path) in &f.routes {
            routed.insert((method.clone(), path.clone()), f.binary.clone());
        }
        if f.binary == "migrate" {
            assert_eq!(f.depends_on, None, "migrate runs the migrations itself");
            assert!(text.contains("ServiceToken: !Ref migrate.Alias"));
            continue;
        }
        assert_eq!(
            f.depends_on.as_deref(),
            Some("SchemaMigrations"),
            "{} must wait for the migrations",
            f.binary
        );
        assert!(
            events_dir().join(&f.binary).is_dir(),
            "events/{} is missing",
            f.binary
        );
        assert!(
            text.contains(&format!("  {}Alarm:\n", f.logical_id)),
            "{} has no alarm",
            f.logical_id
        );
    }
    assert_eq!(
        routed,
        cargo_router(),
        "template routes vs the router table"
    );
}
