//! Installing the toolkit: the example's `install-toolkit` command, run as CircleCI runs it
//! (the harness resolves its steps for the given parameters; `restore_cache` and
//! `save_cache` are CircleCI's, so a job's cache is its home directory, kept or planted
//! between runs), and the README's install command. The releases are what
//! `scripts/release --check` packages and signs (with a throwaway key whose public half it
//! writes beside them), served by the harness' HTTP stub standing in for the releases page
//! (no release host is reachable here).
//!
//! What they show: nothing restored from a cache or downloaded is run before it is
//! verified against what the config pins (the release key, and optionally the exact
//! SHA256SUMS; in `source` mode the built binaries' digest). A planted toolkit that prints
//! the right `--version` is never executed: it writes a marker file when it runs, and the
//! marker never appears.

use crate::circleci::{command_steps, config, run_commands};
use crate::TOOLS;
use infra_test_support::{workspace_binary, workspace_root, Answer, HttpStub};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// One step's (name, exit code, stdout, stderr).
type Ran = (String, i32, String, String);

/// Runs `steps`' `run` steps (CircleCI's `bash -eo pipefail`) with HOME and BASH_ENV in
/// `home`, in the working directory `cwd`, with `path_first` (shims) before PATH; only the
/// step named `only` when given; returns each step up to the first that fails.
fn run_steps_in(
    steps: &[Value],
    home: &Path,
    cwd: &Path,
    path_first: Option<&Path>,
    only: Option<&str>,
) -> Vec<Ran> {
    let mut ran = Vec::new();
    for (name, script) in run_commands(&Value::Sequence(steps.to_vec())) {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        let mut cmd = std::process::Command::new("bash");
        cmd.args(["-eo", "pipefail", "-c", &script])
            .current_dir(cwd)
            .env("HOME", home)
            .env("BASH_ENV", home.join("bash_env"));
        if let Some(first) = path_first {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", first.display()));
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-9);
        ran.push((
            name,
            code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
        if code != 0 {
            break;
        }
    }
    ran
}

/// [`run_steps_in`] with the home as working directory, every step.
fn run_steps(steps: &[Value], home: &Path) -> Vec<Ran> {
    run_steps_in(steps, home, home, None, None)
}

/// The last step run: it must have exited `code`.
fn last(mut ran: Vec<Ran>, code: i32) -> Ran {
    let step = ran.pop().expect("a step ran");
    assert_eq!(step.1, code, "{}: {}{}", step.0, step.2, step.3);
    step
}

/// A release packaged by `scripts/release --check`.
struct Release {
    _dir: tempfile::TempDir,
    version: &'static str,
    name: String,
    archive: Vec<u8>,
    sums: Vec<u8>,
    sig: Vec<u8>,
    /// The public key the release was signed with (what a config would pin).
    key: String,
}

impl Release {
    fn packaged() -> Release {
        let dir = tempfile::tempdir().unwrap();
        let r = crate::scripts::release_check(dir.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let version = env!("CARGO_PKG_VERSION");
        let name = format!("infra-toolkit-{version}-{TARGET}");
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        Release {
            version,
            archive: read(&format!("{name}.tar.gz")),
            sums: read("SHA256SUMS"),
            sig: read("SHA256SUMS.sig"),
            key: String::from_utf8(read("check-signing-key.pub"))
                .unwrap()
                .trim()
                .to_owned(),
            name,
            _dir: dir,
        }
    }

    fn archive_file(&self) -> String {
        format!("{}.tar.gz", self.name)
    }

    /// The routes serving `archive`, `sums` and `sig` under `/PREFIX/download/vVERSION/`.
    fn routes(
        &self,
        prefix: &str,
        archive: &[u8],
        sums: &[u8],
        sig: &[u8],
    ) -> Vec<(String, Vec<Answer>)> {
        let base = format!("/{prefix}/download/v{}", self.version);
        vec![
            (
                format!("{base}/{}", self.archive_file()),
                vec![Answer::bytes(200, archive.to_vec())],
            ),
            (
                format!("{base}/SHA256SUMS"),
                vec![Answer::bytes(200, sums.to_vec())],
            ),
            (
                format!("{base}/SHA256SUMS.sig"),
                vec![Answer::bytes(200, sig.to_vec())],
            ),
        ]
    }
}

fn start(routes: Vec<Vec<(String, Vec<Answer>)>>) -> HttpStub {
    let routes: Vec<(String, Vec<Answer>)> = routes.into_iter().flatten().collect();
    HttpStub::start(
        routes
            .iter()
            .map(|(path, answers)| (path.as_str(), answers.clone()))
            .collect(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Makes `path` executable (0755), as a release's tools are.
fn make_executable(path: &Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(path, perms).unwrap();
}

/// The short commit this checkout's binaries name.
fn head() -> String {
    infra_test_support::git(&workspace_root(), &["rev-parse", "--short=12", "HEAD"])
}

/// A fake tool that prints `tool VERSION (commit HEAD, …)` like the real one and appends
/// to `marker` when it runs.
fn fake_tool(path: &Path, tool: &str, version: &str, marker: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\necho \"$0 $*\" >> '{}'\necho '{tool} {version} (commit {}, {TARGET}, debug)'\n",
            marker.display(),
            head()
        ),
    )
    .unwrap();
    make_executable(path);
}

/// A release archive of fake tools (as a forger would build it) and SHA256SUMS that match
/// it: consistent, but not signed by the release key.
fn forged(release: &Release, marker: &Path) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    for tool in TOOLS {
        fake_tool(
            &dir.path().join(&release.name).join("bin").join(tool),
            tool,
            release.version,
            marker,
        );
    }
    let archive = dir.path().join(release.archive_file());
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg(&release.name)
        .status()
        .unwrap();
    assert!(tar.success());
    let bytes = std::fs::read(&archive).unwrap();
    let sums = format!("{}  {}\n", sha256_hex(&bytes), release.archive_file());
    (bytes, sums.into_bytes())
}

/// The `install-toolkit` steps for a release from `base` (`/PREFIX/download`) pinned to
/// `key`, and `sha256` when given.
fn release_steps(
    release: &Release,
    stub: &HttpStub,
    prefix: &str,
    key: &str,
    sha256: &str,
) -> Vec<Value> {
    command_steps(
        &config(),
        "install-toolkit",
        &[
            ("toolkit-version", release.version),
            (
                "toolkit-base-url",
                &stub.url(&format!("/{prefix}/download")),
            ),
            ("toolkit-release-key", key),
            ("toolkit-sha256", sha256),
        ],
    )
}

/// Each tool on PATH after the job (through BASH_ENV) is the release's, naming this
/// checkout's commit.
fn assert_installed(home: &Path, version: &str) {
    for tool in TOOLS {
        let which = std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool} && {tool} --version")])
            .env("HOME", home)
            .env("BASH_ENV", home.join("bash_env"))
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&which.stdout);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().map(PathBuf::from),
            Some(home.join("toolkit/bin").join(tool)),
            "{tool}: {text}"
        );
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with(&format!("{tool} {version} (commit {}", head()))),
            "{tool}: {text}"
        );
    }
}

fn assert_never_ran(marker: &Path) {
    assert!(
        !marker.exists(),
        "a planted tool ran: {}",
        std::fs::read_to_string(marker).unwrap_or_default()
    );
}

/// A signed release: downloaded, verified (signature by the pinned key, archive against
/// SHA256SUMS) and put on PATH in seconds (measured and printed, not asserted: this
/// machine is shared); the next job verifies what the cache restored and downloads
/// nothing. With `toolkit-sha256` pinned it installs exactly that release and refuses
/// another digest. A corrupted archive is refused naming the file; nothing is installed.
#[test]
// Prints the measured install time (reported, not asserted).
#[allow(clippy::disallowed_macros)]
fn install_toolkit_installs_the_signed_release_and_refuses_a_corrupted_one() {
    let release = Release::packaged();
    let mut corrupted = release.archive.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0x01;
    let stub = start(vec![
        release.routes("releases", &release.archive, &release.sums, &release.sig),
        release.routes("corrupted", &corrupted, &release.sums, &release.sig),
    ]);
    let archive_path = format!(
        "/releases/download/v{}/{}",
        release.version,
        release.archive_file()
    );

    // A fresh job: downloaded, verified, installed, on PATH.
    let home = tempfile::tempdir().unwrap();
    let steps = release_steps(&release, &stub, "releases", &release.key, "");
    let started = std::time::Instant::now();
    let ran = run_steps(&steps, home.path());
    let took = started.elapsed();
    let (_, _, stdout, _) = last(ran, 0);
    assert!(stdout.contains("downloaded and verified"), "{stdout}");
    eprintln!(
        "install-toolkit from the served release: {:.2} s ({} KiB archive)",
        took.as_secs_f64(),
        release.archive.len() / 1024
    );
    assert_eq!(stub.count(&archive_path), 1);
    assert_installed(home.path(), release.version);

    // The next job of the same version: the cache verified, nothing downloaded.
    std::fs::remove_file(home.path().join("bash_env")).unwrap();
    let ran = run_steps(&steps, home.path());
    let (_, _, stdout, _) = last(ran, 0);
    assert!(
        stdout.contains("restored from the cache and verified"),
        "{stdout}"
    );
    assert_eq!(stub.count(&archive_path), 1);
    assert_installed(home.path(), release.version);

    // Pinned to exactly this SHA256SUMS: installed. Pinned to another: refused.
    let pinned = sha256_hex(&release.sums);
    let home = tempfile::tempdir().unwrap();
    let steps = release_steps(&release, &stub, "releases", &release.key, &pinned);
    last(run_steps(&steps, home.path()), 0);
    assert_installed(home.path(), release.version);
    let other = "0".repeat(64);
    let home = tempfile::tempdir().unwrap();
    let steps = release_steps(&release, &stub, "releases", &release.key, &other);
    let (_, _, _, stderr) = last(run_steps(&steps, home.path()), 1);
    assert!(
        stderr.contains(&format!(
            "SHA256SUMS is sha256 {pinned}, toolkit-sha256 pins {other}"
        )) && stderr.contains("nothing installed"),
        "{stderr}"
    );
    assert!(!home.path().join("toolkit").exists());

    // A corrupted archive: the job fails naming it; nothing installed, nothing on PATH.
    let home = tempfile::tempdir().unwrap();
    let steps = release_steps(&release, &stub, "corrupted", &release.key, "");
    let (_, _, _, stderr) = last(run_steps(&steps, home.path()), 1);
    assert!(
        stderr.contains(&format!(
            "{} does not match SHA256SUMS",
            release.archive_file()
        )) && stderr.contains("nothing installed"),
        "{stderr}"
    );
    assert!(!home.path().join("toolkit").exists());
    assert!(!home.path().join(".cache/infra-toolkit").exists());
    assert!(!home.path().join("bash_env").exists());

    // The README's one install command, against the same releases: it unpacks a verified
    // archive, and refuses the corrupted one before unpacking anything.
    for (base, verified) in [("/releases/download", true), ("/corrupted/download", false)] {
        let dir = tempfile::tempdir().unwrap();
        let out = readme_install(&stub.url(base), &release.key, dir.path());
        let unpacked = dir.path().join(&release.name).join("bin/park");
        if verified {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let version_line = std::process::Command::new(&unpacked)
                .arg("--version")
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&version_line.stdout).starts_with(&format!(
                    "park {} (commit {}",
                    release.version,
                    head()
                ))
            );
        } else {
            assert!(!out.status.success());
            assert!(
                String::from_utf8_lossy(&out.stdout)
                    .contains(&format!("{}: FAILED", release.archive_file())),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(!unpacked.exists(), "unpacked a corrupted archive");
        }
    }
}

/// The cache a branch job could poison: `~/toolkit` holding a fake `park` that prints the
/// right `--version`, and the cached download replaced by a forged archive with matching
/// SHA256SUMS (and the genuine signature, which does not cover them). The next job runs
/// none of it: the restore does not verify, is thrown away, and the signed release is
/// downloaded, verified and installed.
#[test]
fn a_planted_toolkit_in_the_cache_is_never_run() {
    let release = Release::packaged();
    let stub = start(vec![release.routes(
        "releases",
        &release.archive,
        &release.sums,
        &release.sig,
    )]);
    let home = tempfile::tempdir().unwrap();
    let marker = home.path().join("planted-tool-ran");
    for tool in TOOLS {
        fake_tool(
            &home.path().join("toolkit/bin").join(tool),
            tool,
            release.version,
            &marker,
        );
    }
    let (archive, sums) = forged(&release, &marker);
    let cache = home
        .path()
        .join(format!(".cache/infra-toolkit/v{}", release.version));
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(release.archive_file()), &archive).unwrap();
    std::fs::write(cache.join("SHA256SUMS"), &sums).unwrap();
    std::fs::write(cache.join("SHA256SUMS.sig"), &release.sig).unwrap();

    let steps = release_steps(&release, &stub, "releases", &release.key, "");
    let ran = run_steps(&steps, home.path());
    let (_, _, stdout, stderr) = last(ran, 0);
    assert!(
        stderr.contains("the cached release does not verify (SHA256SUMS.sig is not a valid signature by the pinned release key")
            && stderr.contains("thrown away, downloading"),
        "{stderr}"
    );
    assert!(stdout.contains("downloaded and verified"), "{stdout}");
    assert_never_ran(&marker);
    assert_installed(home.path(), release.version);
    // The cache now holds the verified release, not the forgery.
    assert_eq!(
        std::fs::read(cache.join("SHA256SUMS")).unwrap(),
        release.sums
    );
    assert_never_ran(&marker);
}

/// The release host itself is not trusted: an archive and SHA256SUMS replaced together
/// (consistent with each other, the genuine signature beside them), SHA256SUMS signed by
/// another key, or no signature at all, are each refused before anything is unpacked or
/// run; the README's command refuses them too.
#[test]
fn a_release_not_signed_by_the_pinned_key_is_refused() {
    let release = Release::packaged();
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("forged-tool-ran");
    let (forged_archive, forged_sums) = forged(&release, &marker);
    // SHA256SUMS signed by a key that is not the pinned one.
    let other = scratch.path().join("other-key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(keygen.success());
    std::fs::write(scratch.path().join("SHA256SUMS"), &release.sums).unwrap();
    let sign = std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-q", "-n", "infra-toolkit-release", "-f"])
        .arg(&other)
        .arg(scratch.path().join("SHA256SUMS"))
        .output()
        .unwrap();
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let other_sig = std::fs::read(scratch.path().join("SHA256SUMS.sig")).unwrap();
    let stub = start(vec![
        release.routes("replaced", &forged_archive, &forged_sums, &release.sig),
        release.routes("other-key", &release.archive, &release.sums, &other_sig),
        release
            .routes("unsigned", &release.archive, &release.sums, b"")
            .into_iter()
            .take(2)
            .collect(),
    ]);
    for (prefix, why) in [
        (
            "replaced",
            "SHA256SUMS.sig is not a valid signature by the pinned release key",
        ),
        (
            "other-key",
            "SHA256SUMS.sig is not a valid signature by the pinned release key",
        ),
        ("unsigned", "SHA256SUMS.sig"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let steps = release_steps(&release, &stub, prefix, &release.key, "");
        let (_, code, _, stderr) = run_steps(&steps, home.path()).pop().unwrap();
        assert_ne!(code, 0, "{prefix}: {stderr}");
        assert!(stderr.contains(why), "{prefix}: {stderr}");
        assert!(!home.path().join("toolkit").exists(), "{prefix}");
        assert!(
            !home.path().join(".cache/infra-toolkit").exists(),
            "{prefix}"
        );
        assert!(!home.path().join("bash_env").exists(), "{prefix}");

        let dir = tempfile::tempdir().unwrap();
        let out = readme_install(
            &stub.url(&format!("/{prefix}/download")),
            &release.key,
            dir.path(),
        );
        assert!(
            !out.status.success(),
            "{prefix}: the README's command installed it"
        );
        assert!(
            !dir.path().join(&release.name).exists(),
            "{prefix}: unpacked"
        );
    }
    assert_never_ran(&marker);
}

/// `source` mode: the binaries are built from the `toolkit` submodule. A restored build is
/// used only when its digest is the one the config pins (`toolkit-source-sha256`); a
/// planted one (fake tools that print the right `--version`, in the cache and in
/// `~/toolkit`) is thrown away and rebuilt, and never run. `cargo` is a shim here that
/// "builds" by copying this checkout's debug binaries into `toolkit/target/release`: the
/// real release build of the submodule takes about 17 minutes, and what is under test is
/// the verification around it.
#[test]
fn source_mode_uses_a_cached_build_only_when_its_digest_is_pinned() {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir_all(project.join("toolkit")).unwrap();
    let shims = home.path().join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let builds = home.path().join("cargo-builds");
    let mut copy = String::new();
    for tool in TOOLS {
        copy.push_str(&format!(
            "cp '{}' toolkit/target/release/{tool}\n",
            workspace_binary(tool).display()
        ));
    }
    std::fs::write(
        shims.join("cargo"),
        format!(
            "#!/bin/sh\necho \"cargo $*\" >> '{}'\nmkdir -p toolkit/target/release\n{copy}",
            builds.display()
        ),
    )
    .unwrap();
    make_executable(&shims.join("cargo"));
    // The digest the build step computes: sha256 of `sha256sum park ecr-tags tf-wrap
    // verify-endpoints run-task` of the built binaries.
    let mut listing = String::new();
    for tool in [
        "park",
        "ecr-tags",
        "tf-wrap",
        "verify-endpoints",
        "run-task",
    ] {
        let bytes = std::fs::read(workspace_binary(tool)).unwrap();
        listing.push_str(&format!("{}  {tool}\n", sha256_hex(&bytes)));
    }
    let pin = sha256_hex(listing.as_bytes());
    let builds_run = || {
        std::fs::read_to_string(&builds)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let version = env!("CARGO_PKG_VERSION");
    let run = |pin: &str| {
        let _ = std::fs::remove_file(home.path().join("bash_env"));
        let steps = command_steps(
            &config(),
            "install-toolkit",
            &[
                ("toolkit-version", "source"),
                ("toolkit-source-sha256", pin),
            ],
        );
        // The submodule checkout step needs the project's git: skipped, `toolkit/` is here.
        run_steps_in(
            &steps,
            home.path(),
            &project,
            Some(&shims),
            Some("Build the toolkit"),
        )
    };

    // Planted: fake tools in the cache and in ~/toolkit.
    let marker = home.path().join("planted-tool-ran");
    for tool in TOOLS {
        for dir in ["toolkit/bin", ".cache/infra-toolkit/source/bin"] {
            fake_tool(&home.path().join(dir).join(tool), tool, version, &marker);
        }
    }
    let ran = run(&pin);
    let (_, _, stdout, stderr) = last(ran, 0);
    assert!(
        stderr.contains("the cached build does not verify")
            && stderr.contains("thrown away, building"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("pin toolkit-source-sha256: {pin}")),
        "{stdout}"
    );
    assert_eq!(builds_run(), 1);
    assert_never_ran(&marker);
    assert_installed(home.path(), version);

    // The next job: the pinned build restored and verified, nothing built; a fake put in
    // ~/toolkit since is not run.
    fake_tool(
        &home.path().join("toolkit/bin/park"),
        "park",
        version,
        &marker,
    );
    let (_, _, stdout, _) = last(run(&pin), 0);
    assert!(stdout.contains("the cached build verified"), "{stdout}");
    assert_eq!(builds_run(), 1);
    assert_never_ran(&marker);
    assert_installed(home.path(), version);

    // No pin: a restored build is never trusted, and the build is not kept for the next.
    let (_, _, _, stderr) = last(run(""), 0);
    assert!(
        stderr.contains("a cached build is not trusted without toolkit-source-sha256"),
        "{stderr}"
    );
    assert_eq!(builds_run(), 2);
    assert!(!home.path().join(".cache/infra-toolkit/source").exists());
    assert_never_ran(&marker);
    assert_installed(home.path(), version);
}

/// The release key pinned in the example config and in the README's install command is
/// `release-key.pub`, the key `scripts/release` signs releases with.
#[test]
fn the_pinned_release_key_is_the_same_everywhere() {
    let key = std::fs::read_to_string(workspace_root().join("release-key.pub")).unwrap();
    let key = key.trim();
    assert!(key.starts_with("ssh-ed25519 "), "{key}");
    let c = config();
    let default = c["commands"]["install-toolkit"]["parameters"]["toolkit-release-key"]["default"]
        .as_str()
        .unwrap();
    assert_eq!(default, key);
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("KEY='{key}'")),
        "README pins another key"
    );
}

/// Runs the README's install command (the shell block after `<!-- install-from-release -->`)
/// in `dir`, with its KEY and BASE lines set to `key` and `base`.
fn readme_install(base: &str, key: &str, dir: &Path) -> std::process::Output {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let block = readme
        .split("<!-- install-from-release -->\n```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README has the install-from-release block");
    assert!(
        block.contains("\nKEY=") && block.contains("\nBASE="),
        "{block}"
    );
    let script: Vec<String> = block
        .lines()
        .map(|line| {
            if line.starts_with("KEY=") {
                format!("KEY='{key}'")
            } else if line.starts_with("BASE=") {
                format!("BASE={base}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    std::process::Command::new("bash")
        .args(["-eo", "pipefail", "-c", &script.join("\n")])
        .current_dir(dir)
        .output()
        .unwrap()
}
