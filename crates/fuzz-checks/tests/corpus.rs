//! The fuzz targets' seed corpora as ordinary tests: every input `fuzz/seeds.txt` names for a
//! target (its committed corpus, the examples, the shared Terraform fixtures) goes through the
//! same check the `cargo fuzz` target runs. This is what `scripts/test` runs on every commit;
//! `scripts/fuzz` runs the coverage-guided fuzzer itself (RELIABILITY.md, "Fuzzing").

use std::path::{Path, PathBuf};

/// Every seed file of `target`, from `fuzz/seeds.txt`.
fn seeds(target: &str) -> Vec<PathBuf> {
    let list = std::fs::read_to_string(infra_test_support::workspace_root().join("fuzz/seeds.txt"))
        .expect("fuzz/seeds.txt");
    let mut files = Vec::new();
    for (n, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, path) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("fuzz/seeds.txt:{}: TARGET PATH", n + 1));
        if name != target {
            continue;
        }
        let path = infra_test_support::workspace_root().join(path.trim());
        assert!(
            path.exists(),
            "fuzz/seeds.txt:{}: {} does not exist",
            n + 1,
            path.display()
        );
        collect(&path, &mut files);
    }
    files.sort();
    files
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            collect(&entry.path(), files);
        }
    } else {
        files.push(path.to_owned());
    }
}

/// Runs `check` on every seed of `target`; fails naming every input whose check panicked,
/// or when the inputs reached fewer than `deep` deep checks (a corpus that exercises nothing).
fn run(target: &str, check: fn(&[u8]) -> usize, deep: usize) {
    let files = seeds(target);
    let mut failed = Vec::new();
    let mut reached = 0;
    for file in &files {
        let data = std::fs::read(file).unwrap();
        match std::panic::catch_unwind(|| check(&data)) {
            Ok(n) => reached += n,
            Err(_) => failed.push(file.display().to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: the check failed on {} of {} inputs (reproduce: scripts/fuzz {target} FILE):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    infra_test_support::report::record(
        &format!("fuzz-corpus-{target}"),
        &format!("the {target} fuzz target's seed corpus as a test"),
        &format!("cargo test -p fuzz-checks --test corpus {target}"),
        serde_json::json!({"inputs": files.len(), "deep_checks": reached, "failures": 0}),
    );
    assert!(
        reached >= deep,
        "{target}: {reached} deep checks over {} inputs, expected at least {deep}",
        files.len()
    );
}

#[test]
fn env_file_corpus() {
    // Located problems of rejected files, plus accepted files.
    run("env_file", fuzz_checks::env_file, 700);
}

#[test]
fn locals_corpus() {
    // Pins found, rewritten, read back and restored.
    run("locals", fuzz_checks::locals, 12);
}

#[test]
fn plan_json_corpus() {
    // Plans read, their resource changes summarised and gated, refusals checked.
    run("plan_json", fuzz_checks::plan_json, 45);
}
