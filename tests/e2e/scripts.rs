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

    let mut scripts = vec![
        root.join("scripts/demo"),
        root.join("scripts/bench"),
        root.join("scripts/bench-release"),
        root.join("scripts/release"),
    ];
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

/// Runs `scripts/release --check --no-build --out DIR`: packages the debug build that
/// scripts/test built and relinked against glibc 2.28 (`scripts/release --check`, before
/// `cargo test`; building inside `cargo test` would wait on cargo's own lock).
pub(crate) fn release_check(out: &std::path::Path) -> std::process::Output {
    std::process::Command::new(workspace_root().join("scripts/release"))
        .args(["--check", "--no-build", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn sha256sum_check(dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The release's packaging, as CI checks it: an archive with the multi-call binary and
/// the four tools as links to it, README, licences, completions and man pages, a CycloneDX
/// SBOM of the crates compiled in, and `SHA256SUMS` over both that `sha256sum -c` accepts
/// (and refuses once a byte changed). The extracted tools name this checkout's commit and
/// need no glibc symbol newer than 2.31 (Ubuntu 20.04); two runs on one commit write the
/// same bytes.
#[test]
fn release_check_writes_a_verified_reproducible_archive() {
    let root = workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("infra-toolkit-{version}-x86_64-unknown-linux-gnu");
    let first = tempfile::tempdir().unwrap();
    let r = release_check(first.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let check = sha256sum_check(first.path());
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let sums = std::fs::read_to_string(first.path().join("SHA256SUMS")).unwrap();
    assert!(sums.contains(&format!("{name}.tar.gz")), "{sums}");
    assert!(sums.contains(&format!("{name}.cdx.json")), "{sums}");

    // Extracted: one binary, the four tools links to it; each runs and says which commit
    // it was built from.
    let unpacked = tempfile::tempdir().unwrap();
    let tar = std::process::Command::new("tar")
        .arg("xzf")
        .arg(first.path().join(format!("{name}.tar.gz")))
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(tar.success());
    let top = unpacked.path().join(&name);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(&root)
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let multi = top.join("bin/infra-toolkit");
    assert!(std::fs::symlink_metadata(&multi).unwrap().is_file());
    for tool in [
        "infra-toolkit",
        "park",
        "ecr-tags",
        "tf-wrap",
        "verify-endpoints",
        "run-task",
    ] {
        let path = top.join("bin").join(tool);
        if tool != "infra-toolkit" {
            assert_eq!(
                std::fs::read_link(&path).unwrap(),
                std::path::Path::new("infra-toolkit"),
                "{tool} is a link to the one binary"
            );
        }
        let out = std::process::Command::new(&path)
            .arg("--version")
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(
            line.starts_with(&format!("{tool} {version} (commit {head}")),
            "{tool}: {line}"
        );
        if tool == "infra-toolkit" {
            continue;
        }
        let man = std::fs::read_to_string(top.join(format!("man/man1/{tool}.1"))).unwrap();
        assert!(man.contains(&format!(".TH {tool} 1")), "{tool}");
        for completion in [
            format!("completions/bash/{tool}"),
            format!("completions/zsh/_{tool}"),
            format!("completions/fish/{tool}.fish"),
        ] {
            assert!(top.join(&completion).is_file(), "{completion}");
        }
    }
    for file in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        assert_eq!(
            std::fs::read(top.join(file)).unwrap(),
            std::fs::read(root.join(file)).unwrap(),
            "{file}"
        );
    }

    // It starts on Ubuntu 20.04: `objdump -T` lists no glibc symbol version above 2.31.
    let newest = newest_glibc(&multi);
    assert!(newest <= (2, 31), "needs GLIBC_{}.{}", newest.0, newest.1);
    // The check can fail: this machine's glibc (2.36 on Debian 12) is newer, and a binary
    // linked against it (cargo's own test executable) needs more than 2.31.
    let own = newest_glibc(&std::env::current_exe().unwrap());
    assert!(
        own > (2, 31),
        "the test executable needs only GLIBC_{own:?}"
    );

    // The SBOM: what the binaries link, at Cargo.lock's versions; no dev-only crate.
    let bom: serde_json::Value = serde_json::from_slice(
        &std::fs::read(first.path().join(format!("{name}.cdx.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    let components = bom["components"].as_array().unwrap();
    let find = |n: &str| components.iter().find(|c| c["name"] == n);
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    for crate_name in ["tokio", "aws-sdk-ecs", "aws-config", "clap"] {
        let c = find(crate_name).unwrap_or_else(|| panic!("{crate_name} is not in the SBOM"));
        let pinned = format!(
            "name = \"{crate_name}\"\nversion = \"{}\"",
            c["version"].as_str().unwrap()
        );
        assert!(lock.contains(&pinned), "{crate_name} {}", c["version"]);
        assert_eq!(c["hashes"][0]["alg"], "SHA-256", "{crate_name}");
    }
    for dev_only in ["proptest", "insta", "infra-test-support"] {
        assert!(find(dev_only).is_none(), "{dev_only} is not compiled in");
    }
    assert_eq!(find("infra-toolkit").unwrap()["type"], "application");
    for tool in [
        "park",
        "ecr-tags",
        "tf-wrap",
        "verify-endpoints",
        "run-task",
    ] {
        assert!(find(tool).is_some(), "{tool} is compiled in");
    }

    // Reproducible: a second run on the same commit writes the same bytes.
    let second = tempfile::tempdir().unwrap();
    let r = release_check(second.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        std::fs::read_to_string(second.path().join("SHA256SUMS")).unwrap(),
        sums
    );

    // A changed byte is caught.
    let archive = second.path().join(format!("{name}.tar.gz"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let check = sha256sum_check(second.path());
    assert!(!check.status.success(), "a corrupted archive passed");
    assert!(String::from_utf8_lossy(&check.stdout).contains(&format!("{name}.tar.gz: FAILED")));
}

/// The newest `GLIBC_X.Y` symbol version in `objdump -T BINARY` (the dynamic symbols).
fn newest_glibc(binary: &std::path::Path) -> (u32, u32) {
    let out = std::process::Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<(u32, u32)> = text
        .split_whitespace()
        .filter_map(|word| word.trim_matches(['(', ')']).strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .collect();
    assert!(
        !versions.is_empty(),
        "no glibc symbols in {}",
        binary.display()
    );
    versions.into_iter().max().unwrap()
}

/// `ssh-keygen -Y verify` of `dir/SHA256SUMS.sig` against the public key `key`.
fn signature_verifies(dir: &std::path::Path, key: &str) -> bool {
    let signers = dir.join("allowed_signers.test");
    std::fs::write(&signers, format!("infra-toolkit-release {key}\n")).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&signers)
        .args([
            "-I",
            "infra-toolkit-release",
            "-n",
            "infra-toolkit-release",
            "-s",
        ])
        .arg(dir.join("SHA256SUMS.sig"))
        .stdin(std::fs::File::open(dir.join("SHA256SUMS")).unwrap())
        .output()
        .unwrap();
    std::fs::remove_file(&signers).unwrap();
    out.status.success()
}

/// The release is signed: `SHA256SUMS.sig` verifies against the key it was signed with (a
/// throwaway one for `--check`, its public half written beside it; or the releaser's
/// `--sign-key`), and not against another key (`release-key.pub`, the project's). The
/// private key never appears in what the script prints.
#[test]
fn release_check_signs_the_sums_and_never_prints_the_key() {
    let throwaway = tempfile::tempdir().unwrap();
    let r = release_check(throwaway.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let key = std::fs::read_to_string(throwaway.path().join("check-signing-key.pub")).unwrap();
    assert!(signature_verifies(throwaway.path(), key.trim()));
    let project = std::fs::read_to_string(workspace_root().join("release-key.pub")).unwrap();
    assert!(!signature_verifies(throwaway.path(), project.trim()));

    // The releaser's own key, given as --sign-key.
    let keys = tempfile::tempdir().unwrap();
    let private = keys.path().join("releaser");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "releaser", "-f"])
        .arg(&private)
        .status()
        .unwrap();
    assert!(keygen.success());
    let out = tempfile::tempdir().unwrap();
    let r = std::process::Command::new(workspace_root().join("scripts/release"))
        .args(["--check", "--no-build", "--sign-key"])
        .arg(&private)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let public = std::fs::read_to_string(keys.path().join("releaser.pub")).unwrap();
    assert!(signature_verifies(out.path(), public.trim()));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let secret = std::fs::read_to_string(&private).unwrap();
    for line in secret.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!printed.contains(line), "the private key was printed");
    }
}

/// A real release (not `--check`) is refused before anything is built: from a work tree
/// with uncommitted changes, or without a signing key. Run in a clone of this checkout, so
/// the checkout itself is never touched.
#[test]
fn a_release_from_a_dirty_tree_or_without_a_key_is_refused() {
    let clone = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--no-hardlinks"])
        .arg(workspace_root())
        .arg(clone.path())
        .status()
        .unwrap();
    assert!(status.success());
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("releaser");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(keygen.success());
    let release = |args: &[&std::ffi::OsStr]| {
        let out = tempfile::tempdir().unwrap();
        let r = std::process::Command::new(clone.path().join("scripts/release"))
            .args(args)
            .arg("--out")
            .arg(out.path())
            .env_remove("INFRA_RELEASE_SIGNING_KEY")
            .output()
            .unwrap();
        let wrote = std::fs::read_dir(out.path()).unwrap().count();
        (r, wrote)
    };
    // No key: refused, whatever the tree.
    let (r, wrote) = release(&[]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("a release is signed: --sign-key FILE"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(wrote, 0);
    // A changed tracked file: refused, naming it, even with a key.
    std::fs::write(clone.path().join("README.md"), "changed\n").unwrap();
    let (r, wrote) = release(&["--sign-key".as_ref(), key.as_os_str()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the work tree has uncommitted changes") && stderr.contains("README.md"),
        "{stderr}"
    );
    assert!(!stderr.contains("Compiling"), "nothing is built: {stderr}");
    assert_eq!(wrote, 0);
}
