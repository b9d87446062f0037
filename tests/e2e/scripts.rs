//! The scripts find the binaries where cargo puts them, so `scripts/demo` and the others
//! work with `CARGO_TARGET_DIR` set (a common setup): `scripts/target-dir` asks cargo, and no
//! script names `target/debug` or `target/release` itself.

use infra_test_support::workspace_root;

#[test]
fn scripts_ask_cargo_for_the_target_directory() {
    let root = workspace_root();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(root.join("scripts/target-dir"))
        .env("CARGO_TARGET_DIR", elsewhere.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        elsewhere.path().to_str().unwrap()
    );
    let out = std::process::Command::new(root.join("scripts/target-dir"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        root.join("target").to_str().unwrap()
    );

    let mut scripts = vec![root.join("scripts/demo"), root.join("scripts/bench")];
    scripts.extend(
        std::fs::read_dir(root.join("scripts/bench.d"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for script in scripts {
        let text = std::fs::read_to_string(&script).unwrap();
        for literal in ["target/debug", "target/release"] {
            assert!(
                !text.contains(literal),
                "{} names {literal}: ask scripts/target-dir",
                script.display()
            );
        }
    }
}
