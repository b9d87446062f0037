//! The conventions every binary keeps: help with exit codes, completions, man pages, and
//! environment-file errors as exit 2 with file:line:column.

use crate::{closed_endpoint, run, run_with, TOOLS};
use infra_test_support::reference_env_file;

#[test]
fn every_tool_documents_its_exit_codes() {
    let endpoint = closed_endpoint();
    for tool in TOOLS {
        let r = run(tool, &["--help"], &endpoint);
        assert_eq!(r.code, 0, "{tool} --help: {}", r.stderr);
        for line in [
            "0  success",
            "1  the operation failed",
            "2  invalid input",
            "3  a check found",
            "4  refused",
        ] {
            assert!(
                r.stdout.contains(line),
                "{tool} --help lacks {line:?}:\n{}",
                r.stdout
            );
        }
        assert!(
            r.stdout.contains("--env-file <PATH>") && r.stdout.contains("INFRA_ENV_FILE"),
            "{tool}"
        );
    }
}

/// `--version` says which build ran: the workspace version, the commit the binaries were
/// built from (this checkout's `HEAD`, `-dirty` when tracked files differed), the target and
/// the profile.
#[test]
fn every_tool_names_its_build_in_its_version() {
    let endpoint = closed_endpoint();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(infra_test_support::workspace_root())
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    for tool in TOOLS {
        let r = run(tool, &["--version"], &endpoint);
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
        let line = r.stdout.trim();
        let rest = line
            .strip_prefix(&format!("{tool} {} (commit ", env!("CARGO_PKG_VERSION")))
            .unwrap_or_else(|| panic!("{tool}: {line}"));
        let (commit, rest) = rest.split_once(", ").unwrap();
        if std::env::var_os("INFRA_BUILD_COMMIT").is_none() && !head.is_empty() {
            assert!(
                commit == head || commit == format!("{head}-dirty"),
                "{tool}: built from {commit}, the checkout is at {head}"
            );
        }
        assert!(
            rest == "x86_64-unknown-linux-gnu, debug)"
                || rest == "x86_64-unknown-linux-gnu, release)",
            "{tool}: {line}"
        );
    }
}

#[test]
fn every_tool_generates_completions_and_a_man_page() {
    let endpoint = closed_endpoint();
    for tool in TOOLS {
        let r = run(tool, &["--completions", "bash"], &endpoint);
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
        assert!(
            r.stdout
                .contains(&format!("complete -F _{}", tool.replace('-', "__"))),
            "{tool}: {}",
            &r.stdout[..200.min(r.stdout.len())]
        );
        let r = run(tool, &["--man"], &endpoint);
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
        assert!(r.stdout.contains(&format!(".TH {tool} 1")), "{tool}");
        assert!(
            r.stdout.contains("refused by a safety guard"),
            "{tool}: the man page has the exit codes"
        );
    }
}

#[test]
fn invalid_environment_file_is_exit_2_with_its_location_for_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("prod.env.hcl");
    let text = std::fs::read_to_string(reference_env_file())
        .unwrap()
        .replace("desired_count = 2", "desired_count = 9");
    std::fs::write(&bad, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("desired_count = 9"))
        .unwrap()
        + 1;
    let endpoint = closed_endpoint();
    for tool in TOOLS {
        let args: &[&str] = match *tool {
            "park" => &["status", "--env-file"],
            "ecr-tags" => &["pins", "--env-file"],
            "tf-wrap" => &["plan", "--env-file"],
            "run-task" => &["run", "prefect-deployer", "--env-file"],
            _ => &["--env-file"],
        };
        let mut args = args.to_vec();
        let path = bad.to_str().unwrap();
        args.push(path);
        let r = run(tool, &args, &endpoint);
        assert_eq!(r.code, 2, "{tool}: {}", r.stderr);
        let expected = format!("{path}:{line}:7: `desired_count` (9) of service `portal` is outside its autoscaling range [1, 4]");
        assert!(
            r.stderr.contains(&expected),
            "{tool} stderr:\n{}\nexpected {expected}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{tool} printed a result: {}", r.stdout);
    }
}

#[test]
fn missing_environment_file_is_exit_2() {
    let endpoint = closed_endpoint();
    let r = run("park", &["status"], &endpoint);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("pass --env-file PATH or set INFRA_ENV_FILE"),
        "{}",
        r.stderr
    );
    // An empty INFRA_ENV_FILE (a CI context variable left blank) is an unset one.
    let r = crate::run_with(
        "park",
        &["status"],
        &endpoint,
        &[("INFRA_ENV_FILE", Some(""))],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("pass --env-file PATH or set INFRA_ENV_FILE"),
        "{}",
        r.stderr
    );
    let r = run(
        "park",
        &["status", "--env-file", "/nonexistent/prod.env.hcl"],
        &endpoint,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read environment file /nonexistent/prod.env.hcl"),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_errors_are_exit_2() {
    let endpoint = closed_endpoint();
    assert_eq!(run("park", &[], &endpoint).code, 2);
    assert_eq!(run("park", &["fly"], &endpoint).code, 2);
    let r = run("park", &["status", "--connect-timeout", "soon"], &endpoint);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a duration"), "{}", r.stderr);
    let env_file = reference_env_file();
    let r = run_with(
        "park",
        &["status", "--max-attempts", "0"],
        &endpoint,
        &[("INFRA_ENV_FILE", env_file.to_str())],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--max-attempts"), "{}", r.stderr);
}

#[test]
fn tf_wrap_summary_of_a_missing_bundle_is_exit_2_and_needs_no_environment() {
    let endpoint = closed_endpoint();
    let r = run(
        "tf-wrap",
        &["summary", "--bundle", "/nonexistent/bundle"],
        &endpoint,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/bundle/manifest.json"),
        "{}",
        r.stderr
    );
}

/// The multi-call `infra-toolkit` is each tool: called through a link named after it, or
/// with the tool's name first, it prints exactly what the stand-alone binary prints (help,
/// version, usage errors with their exit code, a real run's error against the emulator's
/// closed port); no tool or an unknown one is exit 2 naming the tools.
#[test]
fn the_multi_call_binary_is_each_tool_by_name() {
    let endpoint = closed_endpoint();
    let multi = infra_test_support::workspace_binary("infra-toolkit");
    let links = tempfile::tempdir().unwrap();
    let env_file = reference_env_file();
    let env_file = env_file.to_str().unwrap();
    for tool in TOOLS {
        let link = links.path().join(tool);
        std::os::unix::fs::symlink(&multi, &link).unwrap();
        for args in [
            vec!["--help"],
            vec!["--version"],
            vec!["--no-such-flag"],
            vec!["--env-file", env_file, "iam-policy"],
        ] {
            let alone = run(tool, &args, &endpoint);
            let mut cmd = infra_test_support::command(&link, &endpoint);
            let linked: crate::Run = cmd.args(&args).output().unwrap().into();
            let mut cmd = infra_test_support::command(&multi, &endpoint);
            let named: crate::Run = cmd.arg(tool).args(&args).output().unwrap().into();
            for (how, r) in [("link", &linked), ("first argument", &named)] {
                assert_eq!(
                    (r.code, &r.stdout, &r.stderr),
                    (alone.code, &alone.stdout, &alone.stderr),
                    "{tool} {args:?} through its {how}"
                );
            }
        }
    }
    let mut cmd = infra_test_support::command(&multi, &endpoint);
    let none: crate::Run = cmd.output().unwrap().into();
    assert_eq!(none.code, 2, "{}", none.stderr);
    let mut cmd = infra_test_support::command(&multi, &endpoint);
    let unknown: crate::Run = cmd.arg("terraform").output().unwrap().into();
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no tool `terraform`")
            && unknown
                .stderr
                .contains("park, ecr-tags, tf-wrap, verify-endpoints, run-task"),
        "{}",
        unknown.stderr
    );
}
