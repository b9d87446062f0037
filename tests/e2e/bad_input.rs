//! Bad input, everywhere: one table over every tool. Each case runs a built binary against
//! a seeded emulator behind the recording proxy, in a working copy of the reference
//! environment, and asserts the exit code, that the message names the problem, that no
//! file in the working copy changed, and that no mutating AWS call was made.

use crate::run_with;
use infra_test_support::seed::reference_images;
use infra_test_support::{reference_env_file, seed_with, Moto, Proxy, SeedOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

struct Case {
    name: &'static str,
    tool: &'static str,
    args: Vec<String>,
    /// (file in the working copy, new contents) written before the run.
    setup: Vec<(&'static str, Vec<u8>)>,
    /// Environment changes.
    vars: Vec<(&'static str, Option<&'static str>)>,
    /// Talk to a closed port instead of the emulator.
    emulator_down: bool,
    code: i32,
    message: &'static str,
}

fn case(
    name: &'static str,
    tool: &'static str,
    args: &[&str],
    code: i32,
    message: &'static str,
) -> Case {
    Case {
        name,
        tool,
        args: args.iter().map(|s| s.to_string()).collect(),
        setup: Vec::new(),
        vars: Vec::new(),
        emulator_down: false,
        code,
        message,
    }
}

impl Case {
    fn file(mut self, path: &'static str, contents: impl Into<Vec<u8>>) -> Case {
        self.setup.push((path, contents.into()));
        self
    }

    fn var(mut self, name: &'static str, value: Option<&'static str>) -> Case {
        self.vars.push((name, value));
        self
    }

    fn down(mut self) -> Case {
        self.emulator_down = true;
        self
    }
}

#[test]
fn every_tool_refuses_bad_input_cleanly() {
    let session = Moto::session();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reference = infra_core::Environment::load(&reference_env_file()).unwrap();
    let sdk = runtime.block_on(session.sdk_config());
    let options = SeedOptions {
        distinct_push_times: true,
        ..Default::default()
    };
    runtime
        .block_on(seed_with(&sdk, &reference, &reference_images(), &options))
        .unwrap();
    let proxy = Proxy::start(session.endpoint());
    let closed = crate::closed_endpoint();

    let env_text = std::fs::read_to_string(reference_env_file()).unwrap();
    let main_tf = std::fs::read_to_string(reference_env_file().with_file_name("main.tf")).unwrap();
    let truncated = env_text[..env_text.len() / 2].to_owned();
    let wrong_type = env_text.replacen("desired_count = 2", "desired_count = \"two\"", 1);
    let unknown_key = env_text.replacen("desired_count = 2", "desried_count = 2", 1);
    let other_account = env_text.replacen("\"123456789012\"", "\"210987654321\"", 1);
    let mut not_utf8 = env_text.clone().into_bytes();
    not_utf8.splice(40..40, [0xff, 0xfe]);
    let huge = format!("{env_text}\n# {}\n", "x".repeat(1024 * 1024 + 10));
    let twice = main_tf.replacen(
        "  prefect_work_pool = \"blog-data-pool\"",
        "  prefect_work_pool = \"blog-data-pool\"\n}\n\nlocals {\n  prefect_deployer_image = \"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-0000000\"",
        1,
    );
    assert_ne!(twice, main_tf);
    let invalid_hcl = main_tf.replacen("locals {", "locals {{", 1);
    let header_from_env = env_text.replacen(
        "    expect_status           = 200\n",
        "    expect_status           = 200\n    request_header_env      = { Authorization = \"PORTAL_SMOKE_AUTH\" }\n",
        1,
    );
    assert_ne!(header_from_env, env_text);

    let env_file_cases = |tool: &'static str, args: &[&str]| -> Vec<Case> {
        vec![
            case("truncated environment file", tool, args, 2, "prod.env.hcl:")
                .file("prod.env.hcl", truncated.clone()),
            case("wrong type", tool, args, 2, "expected a whole number")
                .file("prod.env.hcl", wrong_type.clone()),
            case(
                "unknown key",
                tool,
                args,
                2,
                "unknown field `desried_count`",
            )
            .file("prod.env.hcl", unknown_key.clone()),
            case("not UTF-8", tool, args, 2, "UTF-8").file("prod.env.hcl", not_utf8.clone()),
            case("huge", tool, args, 2, "byte limit").file("prod.env.hcl", huge.clone()),
        ]
    };
    let mut cases = Vec::new();
    cases.extend(env_file_cases("park", &["down"]));
    cases.extend(env_file_cases(
        "ecr-tags",
        &["bump", "prefect_deployer_image"],
    ));
    cases.extend(env_file_cases("verify-endpoints", &[]));
    cases.extend(env_file_cases("tf-wrap", &["plan", "--bundle", "bundle"]));
    cases.extend([
        case(
            "main.tf is not valid HCL",
            "ecr-tags",
            &["bump", "prefect_deployer_image"],
            2,
            "main.tf:",
        )
        .file("main.tf", invalid_hcl.clone()),
        case(
            "image local defined twice",
            "ecr-tags",
            &["bump", "prefect_deployer_image"],
            2,
            "prefect_deployer_image",
        )
        .file("main.tf", twice.clone()),
        case(
            "unknown image name",
            "ecr-tags",
            &["bump", "prefect_worker_image"],
            2,
            "prefect_worker_image",
        ),
        case(
            "tag outside its pattern",
            "ecr-tags",
            &["bump", "prefect_deployer_image", "--to", "latest"],
            2,
            "is not a tag of image",
        ),
        case(
            "missing credentials",
            "park",
            &["down"],
            1,
            "no usable AWS credentials",
        )
        .var("AWS_ACCESS_KEY_ID", None)
        .var("AWS_SECRET_ACCESS_KEY", None)
        .var("AWS_SESSION_TOKEN", None),
        case(
            "emulator down",
            "park",
            &["down", "--max-attempts", "1"],
            1,
            "sts:GetCallerIdentity",
        )
        .down(),
        case(
            "emulator down",
            "ecr-tags",
            &["bump", "prefect_deployer_image", "--max-attempts", "1"],
            1,
            "sts:GetCallerIdentity",
        )
        .down(),
        case("wrong account", "park", &["down"], 4, "210987654321")
            .file("prod.env.hcl", other_account.clone()),
        case(
            "wrong account",
            "ecr-tags",
            &["bump", "prefect_deployer_image"],
            4,
            "210987654321",
        )
        .file("prod.env.hcl", other_account.clone()),
        case(
            "wrong account",
            "tf-wrap",
            &["plan", "--bundle", "bundle"],
            4,
            "210987654321",
        )
        .file("prod.env.hcl", other_account.clone()),
        case(
            "unreachable endpoint",
            "verify-endpoints",
            &["--url", "http://127.0.0.1:9/health", "--deadline", "1s"],
            1,
            "127.0.0.1:9",
        ),
        case(
            "not a bundle",
            "tf-wrap",
            &["apply", "--bundle", "nowhere"],
            2,
            "nowhere",
        ),
        case("unknown subcommand", "park", &["sideways"], 2, "sideways"),
        case(
            "request header variable unset",
            "verify-endpoints",
            &["--deadline", "1s"],
            2,
            "environment variable `PORTAL_SMOKE_AUTH`, which is not set",
        )
        .file("prod.env.hcl", header_from_env.clone())
        .var("PORTAL_SMOKE_AUTH", None),
    ]);

    let mut tried = 0;
    for c in cases {
        let dir = tempfile::tempdir().unwrap();
        for name in ["prod.env.hcl", "main.tf", "backend.hcl"] {
            std::fs::copy(
                reference_env_file().with_file_name(name),
                dir.path().join(name),
            )
            .unwrap();
        }
        for (path, contents) in &c.setup {
            std::fs::write(dir.path().join(path), contents).unwrap();
        }
        let before = files(dir.path());
        let env_file = dir.path().join("prod.env.hcl");
        let mut args: Vec<String> = vec!["--env-file".into(), env_file.display().to_string()];
        args.extend(c.args.iter().map(|a| {
            if a == "bundle" {
                dir.path().join("bundle").display().to_string()
            } else {
                a.clone()
            }
        }));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        proxy.clear();
        let endpoint = if c.emulator_down {
            closed.as_str()
        } else {
            proxy.endpoint()
        };
        let mut vars = c.vars.clone();
        vars.push(("AWS_EC2_METADATA_DISABLED", Some("true")));
        let r = run_with(c.tool, &args, endpoint, &vars);
        let what = format!("{} / {} {:?}", c.name, c.tool, c.args);
        assert_eq!(
            r.code, c.code,
            "{what}: exit code\n{}\n{}",
            r.stdout, r.stderr
        );
        // Errors go to stderr; a failed check is a result, reported on stdout.
        let said = format!("{}{}", r.stderr, r.stdout);
        assert!(
            said.contains(c.message),
            "{what}: the message should name `{}`:\n{said}",
            c.message
        );
        assert!(
            !r.stderr.contains("panicked"),
            "{what}: panicked\n{}",
            r.stderr
        );
        assert_eq!(files(dir.path()), before, "{what}: a file changed");
        let mutations: Vec<String> = proxy
            .calls()
            .iter()
            .filter(|c| c.is_mutating())
            .map(|c| c.iam_action())
            .collect();
        assert!(
            mutations.is_empty(),
            "{what}: mutating AWS calls {mutations:?}"
        );
        tried += 1;
    }
    infra_test_support::report::record(
        "bad-input",
        "one table over every tool",
        "cargo test -p workspace-tests --test e2e bad_input",
        serde_json::json!({
            "cases": tried,
            "result": "right exit code, message naming the problem, no file and no AWS resource changed",
        }),
    );
}

/// One holiday file that cannot be read (here a DTSTART with dashes) makes the park
/// schedule unusable, not the environment: every tool still loads the file and goes on to
/// its own work (here to AWS, a closed port: the account guard's STS call fails, exit 1),
/// warning where the problem is; only what decides by the schedule (`park down
/// --scheduled`, `park status --check`) refuses with exit 2 naming both files and lines,
/// before any AWS call. `park down` by hand is never stopped by a calendar.
#[test]
fn a_bad_holiday_file_stops_only_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["prod.env.hcl", "main.tf", "backend.hcl"] {
        std::fs::copy(
            infra_test_support::workspace_root()
                .join("examples/prod")
                .join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    let env_file = dir.path().join("prod.env.hcl");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let (before, after) = text.split_once("    timezone ").expect("a schedule block");
    let line = before.lines().count() + 1;
    std::fs::write(
        &env_file,
        format!("{before}    holiday_files = [\"bank-holidays.ics\"]\n    timezone {after}"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bank-holidays.ics"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2026-12-25\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let where_ = format!("prod.env.hcl:{line}:5: holiday file \"bank-holidays.ics\"");
    let ics = "bank-holidays.ics:3: DTSTART \"2026-12-25\" is not a date";
    let endpoint = crate::closed_endpoint();
    let env = env_file.to_str().unwrap();
    let site = format!("{endpoint}/health");
    for (tool, args, code, progress) in [
        ("tf-wrap", vec!["iam-policy"], 0, "\"Version\""),
        ("park", vec!["iam-policy"], 0, "\"Version\""),
        ("ecr-tags", vec!["pins"], 1, "sts:GetCallerIdentity"),
        ("park", vec!["down"], 1, "sts:GetCallerIdentity"),
        (
            "verify-endpoints",
            vec!["--url", &site, "--skip-account-guard", "--deadline", "3s"],
            1,
            "/health",
        ),
    ] {
        // One attempt: a closed port is otherwise retried for a minute.
        let mut all = vec!["--env-file", env, "--max-attempts", "1"];
        all.extend(&args);
        let r = crate::run(tool, &all, &endpoint);
        assert_eq!(r.code, code, "{tool} {args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains(progress) || r.stderr.contains(progress),
            "{tool} {args:?} went on to its work: {}{}",
            r.stdout,
            r.stderr
        );
        assert!(
            r.stderr.contains("WARN") && r.stderr.contains(&where_) && r.stderr.contains(ics),
            "{tool} {args:?} warns: {}",
            r.stderr
        );
    }
    for args in [
        vec!["down", "--scheduled"],
        vec!["up", "--scheduled"],
        vec!["status", "--check"],
    ] {
        let mut all = vec!["--env-file", env];
        all.extend(&args);
        let r = crate::run("park", &all, &endpoint);
        assert_eq!(r.code, 2, "park {args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("error: {}", env_file.display()))
                && r.stderr.contains(&where_)
                && r.stderr.contains(ics)
                && !r.stderr.contains("sts:"),
            "park {args:?}: {}",
            r.stderr
        );
    }
}
