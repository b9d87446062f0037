//! The environment file: the reference file loads, and every kind of mistake is an error
//! that names the line, the column and what was expected.

use infra_core::environment::{AuroraParkPolicy, Environment, LineColumn};
use infra_core::error::{EnvFileErrorKind, Problem};
use std::path::{Path, PathBuf};

fn reference_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/prod/prod.env.hcl")
}

const VALID: &str = r#"environment "prod" {
  account_id = "123456789012"
  region     = "eu-west-2"

  ecs_cluster "blog-prod" {
    service "portal" {
      desired_count = 2
      autoscaling {
        min = 1
        max = 4
      }
    }
  }

  aurora_cluster "blog-aurora" {
    park = "keep"
  }

  image "prefect_deployer_image" {
    file        = "main.tf"
    repository  = "blog-data"
    tag_pattern = "^prefect-deployer-3-python3\\.12-(?P<sha>[0-9a-f]{7,40})$"
  }

  endpoint "portal" {
    url         = "https://portal.example.com/health"
    expect_json = { status = "ok" }
  }
}
"#;

/// Parses `text` and expects exactly the given problems: (line, column, message fragment).
#[track_caller]
fn check(text: &str, expected: &[(usize, usize, &str)]) {
    let err = match Environment::parse(text, Path::new("env.hcl")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    };
    let problems: Vec<Problem> = match &err.kind {
        EnvFileErrorKind::Invalid(p) => p.clone(),
        other => panic!("expected validation problems, got {other:?}"),
    };
    let got: Vec<(usize, usize, String)> = problems
        .iter()
        .map(|p| (p.at.line, p.at.column, p.message.clone()))
        .collect();
    assert_eq!(problems.len(), expected.len(), "problems: {got:#?}");
    for ((line, column, fragment), p) in expected.iter().zip(&problems) {
        assert_eq!(
            (p.at.line, p.at.column),
            (*line, *column),
            "location of {:?}; all: {got:#?}",
            p.message
        );
        assert!(
            p.message.contains(fragment),
            "message {:?} should contain {fragment:?}",
            p.message
        );
    }
    // The rendered error names the file and the location of each problem.
    let rendered = err.to_string();
    for (line, column, _) in expected {
        assert!(
            rendered.contains(&format!("env.hcl:{line}:{column}: ")),
            "rendered: {rendered}"
        );
    }
}

/// `VALID` with one line replaced.
fn edit(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} not in VALID");
    VALID.replacen(from, to, 1)
}

#[test]
fn reference_environment_loads() {
    let env = Environment::load(&reference_file()).unwrap();
    assert_eq!(env.name, "prod");
    assert_eq!(env.account_id, "123456789012");
    assert_eq!(env.region, "eu-west-2");
    let services: Vec<_> = env
        .services()
        .map(|(c, s)| (c.name.as_str(), s.name.as_str(), s.desired_count))
        .collect();
    assert_eq!(
        services,
        [
            ("blog-prod", "portal", 2),
            ("blog-prod", "prefect-server", 1),
            ("blog-prod", "prefect-worker", 1)
        ]
    );
    let portal = &env.ecs_clusters[0].services[0];
    assert!(portal.park);
    assert_eq!(portal.autoscaling.map(|a| (a.min, a.max)), Some((1, 4)));
    assert!(env.ecs_clusters[0].services[2].autoscaling.is_none());
    assert_eq!(env.aurora_clusters[0].park, AuroraParkPolicy::Keep);
    assert_eq!(env.aurora_clusters[0].auto_pause_seconds, 300);
    assert_eq!(
        env.eventbridge_rules,
        [infra_core::environment::EventBridgeRule {
            name: "blog-data-sync-hourly".into(),
            event_bus: "default".into(),
            park: true,
        }]
    );
    assert_eq!(
        env.eventbridge_rule_arns(true),
        ["arn:aws:events:eu-west-2:123456789012:rule/blog-data-sync-hourly"]
    );
    let deployer = env.image("prefect_deployer_image").unwrap();
    assert!(deployer
        .tag_pattern
        .matches("prefect-deployer-3-python3.12-4f2a9c1"));
    assert!(!deployer.tag_pattern.matches("prefect-3-python3.12-ecs"));
    assert!(
        !deployer
            .tag_pattern
            .matches("xprefect-deployer-3-python3.12-4f2a9c1"),
        "patterns are anchored"
    );
    assert_eq!(
        deployer
            .tag_pattern
            .sha("prefect-deployer-3-python3.12-4f2a9c1"),
        Some("4f2a9c1")
    );
    assert!(
        deployer.file.ends_with("examples/prod/main.tf"),
        "{}",
        deployer.file.display()
    );
    // The base image's tags are dated builds: the day, then the commit.
    let base = env.image("prefect_base_image").unwrap();
    assert!(base.require_sha);
    assert_eq!(
        base.tag_pattern
            .sha("prefect-3-python3.12-ecs-20261101-3c9d2e1"),
        Some("3c9d2e1")
    );
    assert!(!base.tag_pattern.matches("prefect-3-python3.12-ecs"));
    assert_eq!(
        deployer.task_definition.as_deref(),
        Some("blog-prod-prefect-deployer")
    );
    assert_eq!(
        env.endpoint("portal").unwrap().expect_json,
        Some(serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        env.endpoint("pipelines").unwrap().expect_body.as_deref(),
        Some("true")
    );
    assert_eq!(
        env.terraform.lock_timeout,
        std::time::Duration::from_secs(300)
    );
    assert!(env
        .terraform
        .backend_config
        .as_ref()
        .unwrap()
        .ends_with("backend.hcl"));
}

#[test]
fn defaults_apply_when_optional_keys_are_absent() {
    let env = Environment::parse(VALID, Path::new("/srv/envs/prod.env.hcl")).unwrap();
    assert_eq!(env.terraform.binary, "terraform");
    assert_eq!(env.terraform.root, Path::new("/srv/envs"));
    assert_eq!(env.endpoints[0].expect_status, 200);
    assert!(env.images[0].require_sha);
}

#[test]
fn syntax_error_names_line_and_column() {
    check(
        &edit("    park = \"keep\"\n", "    park = = \"keep\"\n"),
        &[(16, 12, "syntax error")],
    );
}

#[test]
fn unknown_key_is_located() {
    check(
        &edit(
            "      desired_count = 2\n",
            "      desired_count = 2\n      desried_count = 3\n",
        ),
        &[(8, 7, "unknown field `desried_count`")],
    );
}

#[test]
fn unknown_block_is_located() {
    check(
        &edit(
            "  aurora_cluster \"blog-aurora\" {",
            "  rds_cluster \"x\" {}\n  aurora_cluster \"blog-aurora\" {",
        ),
        &[(15, 3, "unknown field `rds_cluster`")],
    );
}

#[test]
fn wrong_type_is_located() {
    check(
        &edit("desired_count = 2", "desired_count = \"two\""),
        &[(7, 7, "expected a whole number")],
    );
    check(
        &edit("    park = \"keep\"", "    park = 3"),
        &[(16, 5, "expected a quoted string")],
    );
}

#[test]
fn missing_required_key_names_the_block() {
    check(
        &edit("  region     = \"eu-west-2\"\n", ""),
        &[(1, 13, "missing field `region`")],
    );
}

#[test]
fn duplicate_names_are_errors() {
    let dup_service = edit(
        "  aurora_cluster",
        "  ecs_cluster \"blog-prod\" {\n    service \"x\" {\n      desired_count = 1\n    }\n  }\n  aurora_cluster",
    );
    check(
        &dup_service,
        &[(
            15,
            3,
            "duplicate ecs_cluster \"blog-prod\" (first defined at 5:3)",
        )],
    );
    let dup_svc = edit(
        "    service \"portal\" {\n",
        "    service \"portal\" {\n      desired_count = 1\n    }\n    service \"portal\" {\n",
    );
    check(
        &dup_svc,
        &[(9, 5, "duplicate service \"portal\" (first defined at 6:5)")],
    );
    check(
        &edit(
            "  region     = \"eu-west-2\"\n",
            "  region     = \"eu-west-2\"\n  region     = \"eu-west-1\"\n",
        ),
        &[(4, 3, "found redefined attribute")],
    );
}

#[test]
fn block_without_its_name_label() {
    check(
        &edit("    service \"portal\" {", "    service {"),
        &[(6, 5, "block `service` needs 1 label")],
    );
}

#[test]
fn capacities_are_checked() {
    check(
        &edit(
            "        min = 1\n        max = 4",
            "        min = 5\n        max = 4",
        ),
        &[(9, 9, "`min` (5) is greater than `max` (4)")],
    );
    check(
        &edit("desired_count = 2", "desired_count = -1"),
        &[(7, 7, "must not be negative, found -1")],
    );
    check(
        &edit("desired_count = 2", "desired_count = 7"),
        &[(7, 7, "outside its autoscaling range [1, 4]")],
    );
    check(
        &edit("        min = 1", "        min = -2"),
        &[(9, 9, "`min` must not be negative")],
    );
}

#[test]
fn patterns_are_checked() {
    check(
        &edit(r"(?P<sha>[0-9a-f]{7,40})$", r"([0-9a-f]{7,40})$"),
        &[(22, 5, "has no `(?P<sha>...)` group")],
    );
    check(
        &edit(r"(?P<sha>[0-9a-f]{7,40})$", r"(?P<sha>[0-9a-f]{7,40}$"),
        &[(22, 5, "not a valid regular expression")],
    );
    // A fixed tag needs no sha group when the file says so.
    let fixed = edit(r"(?P<sha>[0-9a-f]{7,40})$", r"ecs$")
        .replace("    file ", "    require_sha = false\n    file ");
    assert!(Environment::parse(&fixed, Path::new("env.hcl")).is_ok());
}

/// `task_definition` and `services` (for `ecr-tags pins --live`): names ECS accepts, each
/// service once, located at the key.
#[test]
fn live_targets_of_an_image_are_checked() {
    let with = |extra: &str| {
        edit(
            "    file        = \"main.tf\"\n",
            &format!("    file        = \"main.tf\"\n{extra}"),
        )
    };
    let env = Environment::parse(
        &with("    task_definition = \"blog-prod-deployer\"\n    services = [\"blog-prod/web\", \"other/worker_1\"]\n"),
        Path::new("env.hcl"),
    )
    .unwrap();
    let image = &env.images[0];
    assert_eq!(image.task_definition.as_deref(), Some("blog-prod-deployer"));
    let services: Vec<String> = image.services.iter().map(ToString::to_string).collect();
    assert_eq!(services, ["blog-prod/web", "other/worker_1"]);
    check(
        &with("    task_definition = \"blog-prod-deployer:3\"\n"),
        &[(21, 5, "is not a task definition family name")],
    );
    check(
        &with("    services = [\"web\", \"a/b/c\", \"c/web\", \"c/web\"]\n"),
        &[
            (21, 5, "`services[0]` \"web\" is not `CLUSTER/SERVICE`"),
            (21, 5, "`services[1]` \"a/b/c\" is not `CLUSTER/SERVICE`"),
            (21, 5, "names c/web twice"),
        ],
    );
}

#[test]
fn urls_and_policies_are_checked() {
    check(
        &edit(
            "https://portal.example.com/health",
            "portal.example.com/health",
        ),
        &[(26, 5, "not a valid URL")],
    );
    check(
        &edit(
            "https://portal.example.com/health",
            "ftp://portal.example.com/x",
        ),
        &[(26, 5, "http:// or https://")],
    );
    check(
        &edit("park = \"keep\"", "park = \"stop\""),
        &[(
            16,
            5,
            "unknown Aurora `park` policy \"stop\": expected \"keep\" or \"scale-to-zero\"",
        )],
    );
    check(
        &edit(
            "    park = \"keep\"",
            "    park = \"keep\"\n    auto_pause_seconds = 10",
        ),
        &[(17, 5, "between 300 and 86400")],
    );
}

#[test]
fn eventbridge_rules_default_and_are_checked() {
    let rules = "  aurora_cluster \"blog-aurora\" {\n    park = \"keep\"\n  }\n\n  eventbridge_rule \"hourly\" {}\n\n  eventbridge_rule \"orders.sync\" {\n    event_bus = \"orders\"\n    park      = false\n  }\n";
    let text = edit(
        "  aurora_cluster \"blog-aurora\" {\n    park = \"keep\"\n  }\n",
        rules,
    );
    let env = Environment::parse(&text, Path::new("env.hcl")).unwrap();
    let got: Vec<_> = env
        .eventbridge_rules
        .iter()
        .map(|r| (r.display_name(), r.event_bus.as_str(), r.park))
        .collect();
    assert_eq!(
        got,
        [
            ("hourly".to_owned(), "default", true),
            ("orders/orders.sync".to_owned(), "orders", false)
        ]
    );
    assert_eq!(
        env.eventbridge_rule_arns(false),
        [
            "arn:aws:events:eu-west-2:123456789012:rule/hourly",
            "arn:aws:events:eu-west-2:123456789012:rule/orders/orders.sync"
        ]
    );
    assert_eq!(env.eventbridge_rule_arns(true).len(), 1, "park = false");
    check(
        &text.replace("\"hourly\" {}", "\"hourly!\" {}"),
        &[(19, 20, "invalid EventBridge rule name `hourly!`")],
    );
    check(
        &text.replace(
            "\"orders\"",
            "\"arn:aws:events:eu-west-2:123456789012:event-bus/orders\"",
        ),
        &[(22, 5, "the event bus's name, not its ARN")],
    );
    check(
        &text.replace("park      = false", "park      = \"no\""),
        &[(23, 5, "expected true or false")],
    );
    check(
        &text.replace("park      = false", "parked    = false"),
        &[(23, 5, "unknown field `parked`")],
    );
}

#[test]
fn account_and_region_are_checked() {
    check(
        &edit("\"123456789012\"", "\"12345\""),
        &[(2, 3, "12-digit AWS account ID")],
    );
    check(
        &edit("\"eu-west-2\"", "\"europe\""),
        &[(3, 3, "AWS region")],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = edit("\"123456789012\"", "\"12345\"").replace("park = \"keep\"", "park = \"stop\"");
    check(
        &text,
        &[(2, 3, "12-digit"), (16, 5, "unknown Aurora `park` policy")],
    );
}

#[test]
fn exactly_one_environment() {
    check("", &[(1, 1, "no `environment \"NAME\" { ... }` block")]);
    let two = format!("{VALID}\nenvironment \"staging\" {{\n  account_id = \"123456789012\"\n  region = \"eu-west-1\"\n}}\n");
    check(&two, &[(31, 13, "a second environment `staging`")]);
}

#[test]
fn nested_value_location() {
    check(
        &edit(
            "expect_json = { status = \"ok\" }",
            "expect_json = { status = \"ok\" }\n    expect_status = 700",
        ),
        &[(28, 5, "between 100 and 599")],
    );
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.hcl");
    let err = Environment::load(&missing).unwrap_err();
    assert!(matches!(err.kind, EnvFileErrorKind::Read(_)));
    assert!(err.to_string().contains("missing.hcl"));

    let bad = dir.path().join("bad.hcl");
    std::fs::write(&bad, b"environment \"prod\" {\n  region = \"eu\xff\"\n}\n").unwrap();
    let err = Environment::load(&bad).unwrap_err();
    assert!(
        matches!(
            err.kind,
            EnvFileErrorKind::NotUtf8 {
                at: LineColumn {
                    line: 2,
                    column: 15
                }
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("bad.hcl:2:15: environment file is not valid UTF-8"),
        "{err}"
    );

    let huge = dir.path().join("huge.hcl");
    std::fs::write(&huge, vec![b'#'; 2 * 1024 * 1024]).unwrap();
    let err = Environment::load(&huge).unwrap_err();
    assert!(
        matches!(err.kind, EnvFileErrorKind::TooLarge { .. }),
        "{err:?}"
    );
}

/// Every file of the real-world Terraform corpus is either rejected with a located error or
/// (never, since none has an `environment` block) accepted; nothing panics.
#[test]
fn corpus_files_never_panic() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/tf-corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        panic!("corpus missing at {}", corpus.display());
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        count += 1;
        let err = Environment::parse(&text, &path)
            .expect_err("a Terraform file is not an environment file");
        assert!(!err.problems().is_empty(), "{}", path.display());
    }
    assert!(count > 700, "corpus has {count} files");
}

#[test]
fn endpoint_expectations_are_checked() {
    check(
        &edit(
            "    expect_json = { status = \"ok\" }",
            "    expect_regex = \"(unclosed\"",
        ),
        &[(
            27,
            5,
            "`expect_regex` of endpoint `portal` is not a valid regular expression",
        )],
    );
    check(
        &edit(
            "    expect_json = { status = \"ok\" }",
            "    latency_warn_ms = 900\n    latency_fail_ms = 500",
        ),
        &[(
            27,
            5,
            "`latency_warn_ms` (900) is greater than `latency_fail_ms` (500)",
        )],
    );
    check(
        &edit(
            "    expect_json = { status = \"ok\" }",
            "    latency_fail_ms = 0",
        ),
        &[(27, 5, "must be a positive number of milliseconds")],
    );
    let ok = edit(
        "    expect_json = { status = \"ok\" }",
        "    expect_regex = \"^ok\"\n    expect_content_type = \"application/json\"\n    expect_headers = { \"x-served-by\" = \"portal\" }",
    );
    let env = Environment::parse(&ok, Path::new("env.hcl")).unwrap();
    assert_eq!(
        env.endpoints[0]
            .expect_headers
            .get("x-served-by")
            .map(String::as_str),
        Some("portal")
    );
}

#[test]
fn terraform_gate_settings_default_and_are_validated() {
    let env = Environment::parse(VALID, Path::new("/srv/envs/prod.env.hcl")).unwrap();
    assert_eq!(
        env.terraform.max_plan_age,
        std::time::Duration::from_secs(86_400)
    );
    assert!(env
        .terraform
        .protected_types
        .iter()
        .any(|t| t == "aws_rds_cluster"));
    assert_eq!(env.terraform.protected_types.len(), 7);

    let text = VALID.replacen(
        "  region     = \"eu-west-2\"\n",
        "  region     = \"eu-west-2\"\n  terraform {\n    protected_types = [\"aws_rds_cluster\", \"AWS S3\"]\n    max_plan_age    = \"a while\"\n  }\n",
        1,
    );
    assert_ne!(text, VALID, "the edit applied");
    let err = Environment::parse(&text, Path::new("prod.env.hcl"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`protected_types` entry \"AWS S3\" is not a resource type"),
        "{err}"
    );
    assert!(
        err.contains("`max_plan_age` \"a while\" is not a duration"),
        "{err}"
    );
    // A duration beyond a year is refused at its line (adding it to a clock could
    // overflow), saying why rather than "not a duration".
    let text = VALID.replacen(
        "  region     = \"eu-west-2\"\n",
        "  region     = \"eu-west-2\"\n  max_hold   = \"2600000000000000h\"\n",
        1,
    );
    assert_ne!(text, VALID, "the edit applied");
    let err = Environment::parse(&text, Path::new("prod.env.hcl"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`max_hold` \"2600000000000000h\" is longer than a year"),
        "{err}"
    );

    let text = VALID.replacen(
        "  region     = \"eu-west-2\"\n",
        "  region     = \"eu-west-2\"\n  terraform {\n    protected_types = [\"aws_efs_file_system\"]\n    max_plan_age    = \"2h\"\n  }\n",
        1,
    );
    let env = Environment::parse(&text, Path::new("prod.env.hcl")).unwrap();
    assert_eq!(env.terraform.protected_types, ["aws_efs_file_system"]);
    assert_eq!(
        env.terraform.max_plan_age,
        std::time::Duration::from_secs(7200)
    );
}

/// The `schedule` block: an IANA zone, HH:MM times that differ and that the declared
/// trigger (`runs_every`, hourly by default) lands on, known days, dates, readable
/// iCalendar files; the old `window` refused with what replaces it.
#[test]
fn the_schedule_block_loads_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("holidays")).unwrap();
    std::fs::write(
        dir.path().join("holidays/england.ics"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Christmas Day\r\nDTSTART;VALUE=DATE:20261225\r\n\
         END:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Boxing Day (substitute)\r\n\
         DTSTART;VALUE=DATE:20261228\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let block = |body: &str| {
        edit(
            "  ecs_cluster \"blog-prod\" {",
            &format!("  schedule {{\n{body}\n  }}\n\n  ecs_cluster \"blog-prod\" {{"),
        )
    };
    let good = block(
        "    timezone  = \"Europe/London\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    holidays  = [\"2027-01-01\"]\n    holiday_files = [\"holidays/england.ics\"]",
    );
    let env = Environment::parse(&good, &dir.path().join("env.hcl")).unwrap();
    let schedule = env.schedule.expect("a schedule");
    assert_eq!(schedule.zone(), "Europe/London");
    assert_eq!(schedule.days.len(), 5, "mon-fri by default");
    assert_eq!(schedule.runs_every, std::time::Duration::from_secs(3600));
    let holidays: Vec<String> = schedule.holidays.iter().map(|d| d.to_string()).collect();
    assert_eq!(holidays, ["2026-12-25", "2026-12-28", "2027-01-01"]);
    assert!(Environment::parse(VALID, Path::new("env.hcl"))
        .unwrap()
        .schedule
        .is_none());

    // Line 5 is `schedule {`; its keys follow on lines 6, 7, ...
    check(
        &block("    timezone  = \"Europe/Londres\"\n    unpark_at = \"7:00\"\n    park_at   = \"19:00\""),
        &[(6, 5, "unknown time zone \"Europe/Londres\""), (7, 5, "\"7:00\" is not a local time HH:MM")],
    );
    check(
        &block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"07:00\""),
        &[(8, 5, "`park_at` equals `unpark_at`")],
    );
    check(
        &block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    window    = \"55m\""),
        &[(9, 5, "`window` is gone: scheduled runs now converge")],
    );
    // Hourly runs on the hour never land on 07:05, nor (every 30 minutes declared) on
    // 19:10; in London at either offset.
    check(
        &block("    timezone  = \"Europe/London\"\n    unpark_at = \"07:05\"\n    park_at   = \"19:00\""),
        &[(7, 5, "`unpark_at` \"07:05\" is never the time of a scheduled run triggered every 1h")],
    );
    check(
        &block("    timezone  = \"Europe/London\"\n    unpark_at = \"07:30\"\n    park_at   = \"19:10\"\n    runs_every = \"30m\""),
        &[(8, 5, "`park_at` \"19:10\" is never the time of a scheduled run triggered every 30m")],
    );
    check(
        &block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    runs_every = \"7h\""),
        &[(9, 5, "`runs_every` 7h must divide a day evenly")],
    );
    let half_hourly = block("    timezone  = \"Europe/London\"\n    unpark_at = \"07:30\"\n    park_at   = \"19:00\"\n    runs_every = \"30m\"");
    assert!(Environment::parse(&half_hourly, &dir.path().join("env.hcl")).is_ok());
    check(
        &block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    days      = [\"mon\", \"funday\"]\n    holidays  = [\"2026-13-01\"]"),
        &[(9, 5, "unknown day \"funday\""), (10, 5, "holiday \"2026-13-01\" is not a date")],
    );
    // A holiday file that cannot be read makes the schedule unusable, not the
    // environment: it loads, and says where the problem is.
    let missing = block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    holiday_files = [\"holidays/none.ics\"]");
    let env = Environment::parse(&missing, &dir.path().join("env.hcl")).unwrap();
    let problems = env.usable_schedule().unwrap_err();
    assert!(
        problems.contains("env.hcl:9:5: holiday file \"holidays/none.ics\": cannot read"),
        "{problems}"
    );
    std::fs::write(
        dir.path().join("holidays/bad.ics"),
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:2026-12-25\nEND:VEVENT\nEND:VCALENDAR\n",
    )
    .unwrap();
    let bad = block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    holiday_files = [\"holidays/bad.ics\"]");
    let env = Environment::parse(&bad, &dir.path().join("env.hcl")).unwrap();
    let text = env.usable_schedule().unwrap_err();
    assert!(
        text.contains("env.hcl:9:5: ")
            && text.contains("holidays/bad.ics:3: DTSTART \"2026-12-25\" is not a date"),
        "{text}"
    );
    check(
        &block("    timezone  = \"UTC\"\n    unpark_at = \"07:00\"\n    park_at   = \"19:00\"\n    weekends  = true"),
        &[(9, 5, "weekends")],
    );
}

/// The `notify` block: variables (never URLs), known events, exit 2 at file:line:column.
#[test]
fn the_notify_block_loads_and_is_checked() {
    let block = |body: &str| {
        edit(
            "  ecs_cluster \"blog-prod\" {",
            &format!("  notify {{\n{body}\n  }}\n\n  ecs_cluster \"blog-prod\" {{"),
        )
    };
    let good = block(
        "    slack_webhook_env = \"SLACK_WEBHOOK_URL\"\n    on = [\"failed\", \"held\", \"unexpected-drift\"]",
    );
    let env = Environment::parse(&good, Path::new("env.hcl")).unwrap();
    let notify = env.notify.expect("a notify block");
    assert_eq!(
        notify.slack_webhook_env.as_deref(),
        Some("SLACK_WEBHOOK_URL")
    );
    assert_eq!(notify.webhook_env, None);
    let on: Vec<&str> = notify.on.iter().map(|e| e.as_str()).collect();
    assert_eq!(on, ["failed", "held", "unexpected-drift"]);
    let all = Environment::parse(
        &block("    webhook_env = \"INFRA_WEBHOOK_URL\""),
        Path::new("env.hcl"),
    )
    .unwrap();
    assert_eq!(all.notify.unwrap().on.len(), 5, "every event by default");
    assert!(Environment::parse(VALID, Path::new("env.hcl"))
        .unwrap()
        .notify
        .is_none());

    // Line 5 is `notify {`; its keys follow on lines 6, 7, ...
    check(
        &block("    slack_webhook_env = \"SLACK_WEBHOOK_URL\"\n    on = [\"failed\", \"drifted\"]"),
        &[(7, 5, "unknown event \"drifted\" in `on`: expected failed, refused, unexpected-drift, held, not-live")],
    );
    check(
        &block("    slack_webhook_env = \"1SLACK\""),
        &[(
            6,
            5,
            "`slack_webhook_env` \"1SLACK\" is not an environment variable name",
        )],
    );
    check(
        &block("    on = [\"failed\"]"),
        &[(5, 3, "`notify` names no destination")],
    );
    check(
        &block("    slack_webhook_env = \"SLACK_WEBHOOK_URL\"\n    channel = \"#ops\""),
        &[(7, 5, "channel")],
    );
    // A URL written into the file is refused without being echoed.
    let secret = "https://hooks.slack.example/services/T0/B0/verysecrettoken";
    let err = Environment::parse(
        &block(&format!("    slack_webhook_env = \"{secret}\"")),
        Path::new("env.hcl"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("env.hcl:6:5: `slack_webhook_env` holds a URL"),
        "{text}"
    );
    assert!(!text.contains("verysecrettoken"), "{text}");
}

/// The `task` blocks: checked by `task-spec`, each problem at its key's line and column;
/// `image` must name an `image` block of the file.
#[test]
fn the_task_block_loads_and_is_checked() {
    let block = |body: &str| {
        edit(
            "  endpoint \"portal\" {",
            &format!("  task \"prefect-deployer\" {{\n{body}\n  }}\n\n  endpoint \"portal\" {{"),
        )
    };
    let base = "    task_definition = \"blog-prod-prefect-deployer\"\n    cluster = \"blog-prod\"\n    container = \"deployer\"";
    let good = block(&format!(
        "{base}\n    network_from = \"prefect-worker\"\n    image = \"prefect_deployer_image\"\n    needs = [\"prefect-server\"]\n    timeout = \"15m\""
    ));
    let env = Environment::parse(&good, Path::new("env.hcl")).unwrap();
    let task = env.task("prefect-deployer").expect("the task");
    assert_eq!(task.cluster, "blog-prod");
    assert_eq!(task.needs, ["prefect-server"]);
    assert_eq!(task.timeout, std::time::Duration::from_secs(900));
    assert_eq!(
        task.network,
        infra_core::environment::TaskNetwork::From("prefect-worker".into())
    );
    assert!(Environment::parse(VALID, Path::new("env.hcl"))
        .unwrap()
        .tasks
        .is_empty());

    // Line 25 is `task "prefect-deployer" {`; its keys follow on lines 26, 27, ...
    check(
        &block(&format!("{base}\n    image = \"prefect_base_image\"")),
        &[(
            29,
            5,
            "`image` \"prefect_base_image\" names no `image` block of this environment (known: prefect_deployer_image)",
        )],
    );
    check(
        &block(&format!(
            "{base}\n    timeout = \"2d\"\n    needs = [\"a b\"]"
        )),
        &[
            (29, 5, "`timeout` \"2d\" is longer than 24h"),
            (30, 5, "`needs[0]` \"a b\" is not an ECS service name"),
        ],
    );
    check(
        &block(&format!(
            "{base}\n    network_from = \"prefect-worker\"\n    subnets = [\"subnet-0a1b2c3d\"]"
        )),
        &[(29, 5, "give it or `launch_type`")],
    );
    check(
        &block(
            "    task_definition = \"blog-prod-prefect-deployer:3\"\n    cluster = \"blog-prod\"\n    container = \"deployer\"",
        ),
        &[(26, 5, "is not a task definition family name")],
    );
    check(
        &block(&format!("{base}\n    command = \"deploy\"")),
        &[(29, 5, "command")],
    );
}

/// `after`: the names of other environments, not itself, each once.
#[test]
fn after_names_other_environments() {
    let with = |list: &str| {
        edit(
            "  region     = \"eu-west-2\"\n",
            &format!("  region     = \"eu-west-2\"\n  after      = [{list}]\n"),
        )
    };
    let env = Environment::parse(&with("\"prod-db\", \"shared\""), Path::new("env.hcl")).unwrap();
    assert_eq!(env.after, ["prod-db", "shared"]);
    assert_eq!(env.after_at.map(|a| (a.line, a.column)), Some((4, 3)));
    check(&with("\"prod\""), &[(4, 3, "`after` names `prod` itself")]);
    check(
        &with("\"a b\""),
        &[(4, 3, "`after[0]` \"a b\" is not an environment name")],
    );
    check(
        &with("\"db\", \"db\""),
        &[(4, 3, "`after` names `db` twice")],
    );
}
