//! `ecr-tags pins` and `ecr-tags bump` on a working copy of the reference environment.

use crate::support::{Ecr, WorkingCopy};

const OLD: &str = "prefect-deployer-3-python3.12-1a2b3c4";
const PINNED: &str = "prefect-deployer-3-python3.12-4f2a9c1";
const NEWEST: &str = "prefect-deployer-3-python3.12-9e8d7c6";

#[test]
fn pins_report_where_each_pin_stands() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let r = ecr.run(Some(&wc.env_file), &["pins", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let deployer = &v["pins"][1];
    assert_eq!(deployer["image"], "prefect_deployer_image");
    assert!(
        deployer["location"]
            .as_str()
            .unwrap()
            .ends_with("main.tf:36"),
        "{deployer}"
    );
    assert_eq!(deployer["current"], PINNED);
    assert_eq!(deployer["newest"], NEWEST);
    assert_eq!(deployer["behind"], 1);
    assert_eq!(deployer["status"], "behind");
    assert!(deployer["digest"].as_str().unwrap().starts_with("sha256:"));
    let base = &v["pins"][0];
    assert_eq!(base["status"], "up-to-date");
    assert_eq!(base["notes"], serde_json::json!([]), "dated tags: {base}");

    let r = ecr.run(Some(&wc.env_file), &["pins", "--check"]);
    assert_eq!(r.code, 3, "a pin is behind: {}", r.stdout);

    // Both pins live in one repository: it is read once, not once per pin.
    let proxy = infra_test_support::Proxy::start(ecr.session.endpoint());
    let r = ecr.run_via(proxy.endpoint(), Some(&wc.env_file), &["pins"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls: Vec<String> = proxy
        .calls()
        .iter()
        .map(|c| c.iam_action())
        .filter(|a| a.starts_with("ecr:"))
        .collect();
    assert_eq!(calls, ["ecr:DescribeRepositories", "ecr:DescribeImages"]);

    // A pin to a tag that is not in ECR.
    let text = std::fs::read_to_string(&wc.main_tf)
        .unwrap()
        .replace(PINNED, "prefect-deployer-3-python3.12-0000000");
    std::fs::write(&wc.main_tf, text).unwrap();
    let r = ecr.run(Some(&wc.env_file), &["pins", "--check", "--output", "json"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.json()["pins"][1]["status"], "missing");

    // A fixed base tag (what the runbook pushed before dated tags) in an immutable
    // repository: pinned fine, with the warning that it can be pushed only once.
    ecr.push("blog-data", "fixed-base", &["prefect-3-python3.12-ecs"]);
    let env = std::fs::read_to_string(&wc.env_file).unwrap().replace(
        "tag_pattern = \"prefect-3-python3\\\\.12-ecs-(?P<date>[0-9]{8})-(?P<sha>[0-9a-f]{7,40})\"",
        "tag_pattern = \"prefect-3-python3\\\\.12-ecs\"\n    require_sha = false",
    );
    assert!(env.contains("require_sha = false"), "{env}");
    std::fs::write(&wc.env_file, env).unwrap();
    let tf = std::fs::read_to_string(&wc.main_tf).unwrap().replace(
        "prefect-3-python3.12-ecs-20261101-3c9d2e1",
        "prefect-3-python3.12-ecs",
    );
    std::fs::write(&wc.main_tf, tf).unwrap();
    let r = ecr.run(Some(&wc.env_file), &["pins", "--output", "json"]);
    let base = &r.json()["pins"][0];
    assert_eq!(base["status"], "up-to-date", "{base}");
    assert!(
        base["notes"][0]
            .as_str()
            .unwrap()
            .contains("ImageTagAlreadyExistsException"),
        "fixed tag warning: {base}"
    );
}

/// AWS out of reach is a failure (exit 1), not invalid input: the pins were read fine. A
/// pin that cannot be read is invalid input (exit 2), and wins over a failure.
#[test]
fn pins_with_aws_unreachable_is_exit_1_and_an_unreadable_pin_exit_2() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let closed = "http://127.0.0.1:9";
    let args = [
        "pins",
        "--skip-account-guard",
        "--max-attempts",
        "1",
        "--output",
        "json",
    ];
    let r = ecr.run_via(closed, Some(&wc.env_file), &args);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    for pin in v["pins"].as_array().unwrap() {
        assert_eq!(pin["status"], "error", "{pin}");
        assert!(
            pin["notes"][0]
                .as_str()
                .unwrap()
                .contains("ecr:DescribeRepositories"),
            "the note names the call that failed: {pin}"
        );
    }

    let text = std::fs::read_to_string(&wc.main_tf).unwrap().replace(
        &format!("\"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{PINNED}\""),
        "42",
    );
    assert!(text.contains("prefect_deployer_image = 42"), "{text}");
    std::fs::write(&wc.main_tf, text).unwrap();
    let r = ecr.run_via(closed, Some(&wc.env_file), &args);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let r = ecr.run(Some(&wc.env_file), &["pins", "--output", "json"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pins"][1]["status"], "error");
}

#[test]
fn bump_rewrites_only_the_tag_and_is_idempotent() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let original = std::fs::read(&wc.main_tf).unwrap();

    let r = ecr.run(
        Some(&wc.env_file),
        &["bump", "prefect_deployer_image", "--dry-run"],
    );
    assert_eq!(r.code, 3, "dry run with a change: {}", r.stderr);
    assert!(r.stdout.contains(&format!("-  prefect_deployer_image = \"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{PINNED}\"")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("+  prefect_deployer_image = \"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{NEWEST}\"")), "{}", r.stdout);
    assert_eq!(
        std::fs::read(&wc.main_tf).unwrap(),
        original,
        "dry run writes nothing"
    );

    let r = ecr.run(Some(&wc.env_file), &["bump", "prefect_deployer_image"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "bumped prefect_deployer_image: {PINNED} -> {NEWEST}"
        )),
        "{}",
        r.stdout
    );
    let expected = String::from_utf8(original.clone())
        .unwrap()
        .replacen(PINNED, NEWEST, 1);
    assert_eq!(
        std::fs::read_to_string(&wc.main_tf).unwrap(),
        expected,
        "exactly the tag changed"
    );

    let r = ecr.run(
        Some(&wc.env_file),
        &["bump", "prefect_deployer_image", "--output", "json"],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["changed"], false);
    let r = ecr.run(Some(&wc.env_file), &["bump", "prefect_deployer_image"]);
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&wc.main_tf).unwrap(), expected);
}

#[test]
fn bump_refusals() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let original = std::fs::read(&wc.main_tf).unwrap();
    let run = |args: &[&str]| ecr.run(Some(&wc.env_file), args);

    let r = run(&["bump", "prefect_deployer_image", "--to", OLD]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is older than the current pin")
            && r.stderr.contains("--allow-downgrade"),
        "{}",
        r.stderr
    );

    let r = run(&[
        "bump",
        "prefect_deployer_image",
        "--to",
        "prefect-deployer-3-python3.12-abcdef0",
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not exist in ECR repository blog-data"),
        "{}",
        r.stderr
    );

    let r = run(&[
        "bump",
        "prefect_deployer_image",
        "--to",
        "prefect-3-python3.12-ecs",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is not a tag of image `prefect_deployer_image`"),
        "{}",
        r.stderr
    );

    let r = run(&["bump", "no_such_image"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no image `no_such_image`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(&wc.main_tf).unwrap(),
        original,
        "nothing written by any refusal"
    );

    let r = run(&[
        "bump",
        "prefect_deployer_image",
        "--to",
        OLD,
        "--allow-downgrade",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&wc.main_tf).unwrap().contains(OLD));
}

#[test]
fn broken_terraform_files_are_exit_2_with_the_place() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let original = std::fs::read_to_string(&wc.main_tf).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (format!("locals {{\n  prefect_deployer_image = \"x/blog-data:a\"\n}}\n{original}"), "`prefect_deployer_image` is defined 2 times, at 2:3, 39:3"),
        (original.replacen("locals {", "locals {\n  prefect_deployer_image = \"x/blog-data:a\"", 1), "main.tf:37:3: not valid HCL: invalid attribute; expected unique attribute key; found redefined attribute"),
        (original.replace("  prefect_deployer_image =", "  prefect_deployer_imag ="), "no `locals` block defines `prefect_deployer_image`"),
        (original.replacen("locals {", "locals {{", 1), "not valid HCL"),
        (
            original.replace(&format!("blog-data:{PINNED}\""), &format!("blog-data:{PINNED}\\n\"")),
            "escape sequences",
        ),
        (original.replace("/blog-data:prefect-deployer", "/other-repo:prefect-deployer"), "but the environment file says repository blog-data"),
        (
            original.replace(
                &format!("\"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{PINNED}\""),
                &format!("<<EOT\n123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{PINNED}\nEOT"),
            ),
            "the value is a heredoc",
        ),
        (
            original.replace(
                &format!("\"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{PINNED}\""),
                "local.ecr_repository",
            ),
            "the value is not a quoted string",
        ),
    ];
    for (text, message) in cases {
        std::fs::write(&wc.main_tf, &text).unwrap();
        let r = ecr.run(Some(&wc.env_file), &["bump", "prefect_deployer_image"]);
        assert_eq!(r.code, 2, "{message}: {}", r.stderr);
        assert!(
            r.stderr.contains(message),
            "expected {message:?} in {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("main.tf:"),
            "names the file: {}",
            r.stderr
        );
        assert_eq!(
            std::fs::read_to_string(&wc.main_tf).unwrap(),
            text,
            "nothing written"
        );
    }
}

#[test]
fn only_commits_reachable_from_the_ref_are_pinned() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    // A git repository whose main has one commit; the image tags name other commits.
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| infra_test_support::git(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "one"]);
    let repo_arg = repo.path().to_str().unwrap();
    let r = ecr.run(
        Some(&wc.env_file),
        &[
            "bump",
            "prefect_deployer_image",
            "--git-repo",
            repo_arg,
            "--git-ref",
            "main",
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("commit 9e8d7c6 of the image's tag is not in the git repository"),
        "{}",
        r.stderr
    );

    // Push an image whose tag names main's commit, and one on an unmerged branch.
    let head = git(&["rev-parse", "HEAD"]);
    git(&["checkout", "-q", "-b", "feature"]);
    git(&["commit", "-q", "--allow-empty", "-m", "two"]);
    let feature = git(&["rev-parse", "HEAD"]);
    let merged_tag = format!("prefect-deployer-3-python3.12-{}", &head[..7]);
    let unmerged_tag = format!("prefect-deployer-3-python3.12-{}", &feature[..7]);
    ecr.next_second();
    ecr.push("blog-data", "merged", &[&merged_tag]);
    ecr.next_second();
    ecr.push("blog-data", "unmerged", &[&unmerged_tag]);
    let r = ecr.run(
        Some(&wc.env_file),
        &["bump", "prefect_deployer_image", "--git-repo", repo_arg],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is not reachable from `main`: the image was built from an unmerged branch"),
        "{}",
        r.stderr
    );
    let r = ecr.run(
        Some(&wc.env_file),
        &[
            "bump",
            "prefect_deployer_image",
            "--to",
            &merged_tag,
            "--git-repo",
            repo_arg,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&wc.main_tf)
        .unwrap()
        .contains(&merged_tag));
}

/// Crash safety of the rewrite: `ecr-tags bump` is SIGKILLed at 30 moments over its run;
/// every time `main.tf` is either exactly the old file or exactly the bumped one, never
/// truncated or half-written.
#[test]
fn a_killed_bump_leaves_the_old_file_or_the_new_one() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let original = std::fs::read_to_string(&wc.main_tf).unwrap();
    let bumped = original.replacen(PINNED, NEWEST, 1);
    let (mut old, mut new) = (0, 0);
    for step in 0..30u64 {
        std::fs::write(&wc.main_tf, &original).unwrap();
        let mut child =
            infra_test_support::command(env!("CARGO_BIN_EXE_ecr-tags"), ecr.session.endpoint())
                .arg("--env-file")
                .arg(&wc.env_file)
                .args(["bump", "prefect_deployer_image"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(step * 15));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(&wc.main_tf).unwrap();
        if now == original {
            old += 1;
        } else {
            assert_eq!(now, bumped, "killed after {} ms: a partial file", step * 15);
            new += 1;
        }
    }
    infra_test_support::report::record(
        "ecr-tags-bump-crash",
        "ecr-tags bump, SIGKILL at 30 moments 0-435 ms",
        "cargo test -p ecr-tags --test tests killed",
        serde_json::json!({
            "kills": old + new, "old_file": old, "bumped_file": new, "partial_files": 0,
            "result": "main.tf always exactly the old or the bumped file",
        }),
    );
    assert!(
        old > 0 && new > 0,
        "the kills covered both sides of the write ({old} old, {new} new)"
    );
}

/// Fault suite: `latest`, `pins` and `bump` through the proxy injecting a seeded schedule of
/// throttling (`ThrottlingException`, STS `Throttling`), 5xx and closed connections: one
/// run of each gives the same answers as without faults, and the last round's bump writes
/// exactly the new tag. `ECR_FAULT_SEED` (default 5) reproduces a run.
#[test]
fn latest_pins_and_bump_answer_the_same_under_faults() {
    let seed: u64 = std::env::var("ECR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let clean = ecr.run(Some(&wc.env_file), &["pins", "--output", "json"]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let proxy = infra_test_support::Proxy::start(ecr.session.endpoint());
    let mut total = infra_test_support::FaultCounts::default();
    let faults = |seed: u64| {
        Some(infra_test_support::Faults {
            seed,
            throttle: 0.30,
            server_error: 0.05,
            reset: 0.02,
            max_latency: std::time::Duration::from_millis(20),
        })
    };
    for round in 0..5u64 {
        proxy.faults(faults(seed.wrapping_add(round)));
        let r = ecr.run_via(
            proxy.endpoint(),
            Some(&wc.env_file),
            &["latest", "prefect_deployer_image", "--output", "json"],
        );
        assert_eq!(r.code, 0, "latest, seed {}: {}", seed + round, r.stderr);
        assert_eq!(r.json()["tag"], NEWEST);
        let r = ecr.run_via(
            proxy.endpoint(),
            Some(&wc.env_file),
            &["pins", "--output", "json"],
        );
        assert_eq!(r.code, 0, "pins, seed {}: {}", seed + round, r.stderr);
        assert_eq!(r.json(), clean.json());
        let r = ecr.run_via(
            proxy.endpoint(),
            Some(&wc.env_file),
            &[
                "bump",
                "prefect_deployer_image",
                "--dry-run",
                "--output",
                "json",
            ],
        );
        assert_eq!(
            r.code,
            3,
            "bump --dry-run, seed {}: {}",
            seed + round,
            r.stderr
        );
        assert_eq!(r.json()["to"], NEWEST);
        total += proxy.fault_counts();
    }
    let before = std::fs::read_to_string(&wc.main_tf).unwrap();
    proxy.faults(faults(seed.wrapping_add(5)));
    let r = ecr.run_via(
        proxy.endpoint(),
        Some(&wc.env_file),
        &["bump", "prefect_deployer_image"],
    );
    assert_eq!(r.code, 0, "bump under faults: {}", r.stderr);
    total += proxy.fault_counts();
    assert_eq!(
        std::fs::read_to_string(&wc.main_tf).unwrap(),
        before.replace(PINNED, NEWEST),
        "only the tag changed"
    );
    assert!(total.throttled > 0, "{total:?}");
    let mut fields = infra_test_support::report::faults(&total);
    fields["result"] = "every round: exit 0, the same answers as without faults".into();
    infra_test_support::report::record(
        &format!("ecr-tags-faults-seed-{seed}"),
        &format!(
            "ecr-tags latest + pins + bump --dry-run, 5 rounds, seeds {seed}-{}, then one bump (seed {})",
            seed + 4,
            seed + 5
        ),
        &format!("ECR_FAULT_SEED={seed} cargo test -p ecr-tags --test tests under_faults"),
        fields,
    );
}
