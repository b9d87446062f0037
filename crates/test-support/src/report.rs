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
