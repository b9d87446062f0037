//! Figures of the reliability suites, written by the tests themselves: each suite records
//! one JSON object in `target/reliability/SUITE.json` when it passes (fault counts, crashes
//! survived, inputs tried), and `scripts/reliability` renders them into RELIABILITY.md.

use crate::{write_atomically, FaultCounts};
use std::path::PathBuf;

/// The directory the figures go to (`INFRA_RELIABILITY_DIR`, else `target/reliability`).
pub fn dir() -> PathBuf {
    std::env::var_os("INFRA_RELIABILITY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/reliability"))
}

/// Records a passing suite's figures: `what` (one line a reader understands), `command`
/// (how to rerun it) and `fields` (numbers and results). Also prints them, for
/// `--nocapture` runs. A failure to write is reported, never fatal: the figures are a
/// by-product of the test, not its verdict.
pub fn record(suite: &str, what: &str, command: &str, fields: serde_json::Value) {
    let mut object = serde_json::json!({
        "suite": suite,
        "what": what,
        "command": command,
        "recorded_at": humantime_now(),
    });
    if let (Some(o), serde_json::Value::Object(f)) = (object.as_object_mut(), fields) {
        o.extend(f);
    }
    let text = serde_json::to_string_pretty(&object).expect("JSON");
    eprintln!("{suite}: {text}");
    let path = dir().join(format!("{suite}.json"));
    if let Err(e) = write_atomically(&path, &(text + "\n"), 0o644) {
        eprintln!("warning: could not record {suite}: {e}");
    }
}

/// A proxy's fault counts as JSON fields.
pub fn faults(c: &FaultCounts) -> serde_json::Value {
    serde_json::json!({
        "requests": c.requests,
        "throttled": c.throttled,
        "server_errors": c.server_errors,
        "resets": c.resets,
        "forwarded": c.forwarded,
        "faults_injected": c.injected(),
    })
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Renders the figures recorded in `dir` (every `*.json`, and `fuzz.md` when present) as
/// RELIABILITY.md's "Figures" section: fault suites, crash suites, overlapping runs, bad
/// input and fuzzing. `scripts/reliability` prints it and, with `--update`, splices it in.
pub fn render(dir: &std::path::Path) -> Result<String, String> {
    use serde_json::Value;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut records = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        records.push(value);
    }
    let s = |r: &Value, k: &str| match &r[k] {
        Value::String(text) => text.clone(),
        Value::Null => "?".to_owned(),
        other => other.to_string(),
    };
    let suite = |r: &Value| s(r, "suite");
    let date = records
        .iter()
        .map(|r| s(r, "recorded_at"))
        .max()
        .unwrap_or_else(|| "?".into());
    let mut lines = vec![
        format!(
            "Figures of the last full run ({}), written by the suites themselves: `scripts/reliability --update`.",
            date.get(..10).unwrap_or(&date)
        ),
        String::new(),
        "### Fault suites (30% throttling, 5% 5xx, 2% resets)".into(),
        String::new(),
        "| suite | requests | throttled | 5xx | resets | faults retried | result | rerun |".into(),
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |".into(),
    ];
    let fault_row = |what: String, f: &Value, result: String, command: String| {
        format!(
            "| {what} | {} | {} | {} | {} | {} | {result} | `{command}` |",
            s(f, "requests"),
            s(f, "throttled"),
            s(f, "server_errors"),
            s(f, "resets"),
            s(f, "faults_injected")
        )
    };
    for r in &records {
        let name = suite(r);
        if name.starts_with("park-faults") || name.starts_with("park-heavy") {
            for d in ["down", "up"] {
                let f = &r[d];
                let what = format!(
                    "park {d}, {} services, seed {} ({} s, {} run(s))",
                    s(r, "services"),
                    s(r, "seed"),
                    s(f, "seconds"),
                    s(f, "runs")
                );
                lines.push(fault_row(what, f, s(r, "result"), s(r, "command")));
            }
        } else if name.contains("-faults") {
            lines.push(fault_row(s(r, "what"), r, s(r, "result"), s(r, "command")));
        }
    }
    let section = |lines: &mut Vec<String>, title: &str, count: &str| {
        lines.extend([
            String::new(),
            format!("### {title}"),
            String::new(),
            format!("| suite | {count} | result | rerun |"),
            "| --- | ---: | --- | --- |".into(),
        ]);
    };
    let row = |what: String, n: String, result: String, command: String| {
        format!("| {what} | {n} | {result} | `{command}` |")
    };
    section(&mut lines, "Crash suites", "kills");
    for r in &records {
        let name = suite(r);
        if name.ends_with("-crash") || name.starts_with("park-crash") {
            lines.push(row(
                s(r, "what"),
                s(r, "kills"),
                s(r, "result"),
                s(r, "command"),
            ));
        }
    }
    section(&mut lines, "Overlapping runs", "rounds");
    for r in records.iter().filter(|r| suite(r) == "park-lock-race") {
        lines.push(row(
            s(r, "what"),
            s(r, "rounds"),
            s(r, "result"),
            s(r, "command"),
        ));
    }
    section(&mut lines, "Bad input and fuzzing", "inputs");
    for r in &records {
        let name = suite(r);
        if name == "bad-input" {
            let what = "bad-input table over every tool".to_owned();
            lines.push(row(what, s(r, "cases"), s(r, "result"), s(r, "command")));
        } else if name.starts_with("fuzz-corpus") {
            let result = format!(
                "{} deep checks, {} failures",
                s(r, "deep_checks"),
                s(r, "failures")
            );
            lines.push(row(s(r, "what"), s(r, "inputs"), result, s(r, "command")));
        }
    }
    if let Ok(fuzz) = std::fs::read_to_string(dir.join("fuzz.md")) {
        lines.extend([
            String::new(),
            "cargo-fuzz (libFuzzer, `scripts/fuzz --seconds N`):".into(),
            String::new(),
        ]);
        lines.extend(fuzz.trim().lines().map(str::to_owned));
    }
    Ok(lines.join("\n") + "\n")
}

/// `document` with the text between its `<!-- figures:begin -->` and `<!-- figures:end -->`
/// markers replaced by `figures`.
pub fn splice(document: &str, figures: &str) -> Result<String, String> {
    const BEGIN: &str = "<!-- figures:begin -->\n";
    const END: &str = "<!-- figures:end -->";
    let start = document
        .find(BEGIN)
        .map(|i| i + BEGIN.len())
        .ok_or("no <!-- figures:begin --> marker")?;
    let end = document[start..]
        .find(END)
        .map(|i| start + i)
        .ok_or("no <!-- figures:end --> marker after the begin marker")?;
    Ok(format!(
        "{}{figures}{}",
        &document[..start],
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_rendered_per_section_and_spliced_between_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, value: serde_json::Value| {
            std::fs::write(dir.path().join(name), value.to_string()).unwrap();
        };
        write(
            "ecr-tags-faults-seed-5.json",
            serde_json::json!({"suite": "ecr-tags-faults-seed-5", "what": "ecr-tags latest", "command": "cargo test x",
                "recorded_at": "2026-12-03T06:00:00Z", "requests": 39, "throttled": 7, "server_errors": 2,
                "resets": 0, "faults_injected": 9, "result": "exit 0"}),
        );
        write(
            "park-lock-race.json",
            serde_json::json!({"suite": "park-lock-race", "what": "down and up", "command": "cargo test y",
                "recorded_at": "2026-12-02T06:00:00Z", "rounds": 6, "result": "one up restores all"}),
        );
        let text = render(dir.path()).unwrap();
        assert!(
            text.starts_with("Figures of the last full run (2026-12-03)"),
            "{text}"
        );
        assert!(
            text.contains("| ecr-tags latest | 39 | 7 | 2 | 0 | 9 | exit 0 | `cargo test x` |"),
            "{text}"
        );
        assert!(
            text.contains("| down and up | 6 | one up restores all | `cargo test y` |"),
            "{text}"
        );
        let doc = "# R\n<!-- figures:begin -->\nold\n<!-- figures:end -->\ntail\n";
        assert_eq!(
            splice(doc, "new\n").unwrap(),
            "# R\n<!-- figures:begin -->\nnew\n<!-- figures:end -->\ntail\n"
        );
        assert!(splice("no markers", "x").is_err());
    }
}
