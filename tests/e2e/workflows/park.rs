//! Park then unpark, and the hourly schedules on London time, run as written.

use crate::circleci::*;
use infra_test_support::workspace_binary;

#[test]
fn park_then_unpark_restores_every_service_and_verifies() {
    let ci = Ci::new();
    let before = ci.desired_counts();
    assert_eq!(
        before,
        [
            ("portal".to_owned(), 2),
            ("prefect-server".to_owned(), 1),
            ("prefect-worker".to_owned(), 1)
        ]
    );
    ci.ok("park-prod-env");
    assert!(
        ci.desired_counts().iter().all(|(_, d)| *d == 0),
        "{:?}",
        ci.desired_counts()
    );
    assert_eq!(
        ci.report("reports/park-status.json")["schema"],
        "park/status"
    );
    ci.ok("unpark-prod-env");
    assert_eq!(ci.desired_counts(), before);
    ci.ok("verify-prod-endpoints");
}

/// A PATH for the jobs whose `park` is a stand-in adding `--now "$PARK_TEST_NOW"` to the
/// clock-driven commands (`up`, `down`, `status`) before running the real binary: CircleCI
/// has no clock to set. The directory lives as long as the returned guard.
fn clock_path(ci: &Ci) -> (tempfile::TempDir, String) {
    let clock = tempfile::tempdir().unwrap();
    let shim = clock.path().join("park");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"$1\" in up|down|status) exec \"{real}\" \"$@\" --now \"$PARK_TEST_NOW\" ;; esac\nexec \"{real}\" \"$@\"\n",
            real = workspace_binary("park").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:{}:{}",
        clock.path().display(),
        ci.agent.path().display(),
        workspace_binary("park").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (clock, path)
}

/// The hourly park and unpark schedules, with the parameters the config's header documents,
/// run at fixed instants against the emulator with the reference environment's schedule
/// (London, 07:00-19:00 on working days). CircleCI has no clock to set, so the jobs' PATH
/// starts with a stand-in `park` that adds `--now INSTANT` to the clock-driven commands
/// (`up`, `down`, `status`) and runs the real binary. The run the hour before the
/// schedule's time changes nothing and ends the job after its first step, green; the run
/// at the time parks, or unparks and then checks the endpoints. In July 19:00 London is
/// 18:00 UTC and 07:00 is 06:00 UTC; in December they are 19:00 and 07:00 UTC: the same
/// two jobs, no cron edited. In December the 07:00 unpark is refused by a held lock: the
/// job fails and Slack is told; the 08:00 run catches it up.
#[test]
fn the_hourly_schedules_converge_on_london_time() {
    let ci = Ci::new();
    let c = &ci.config;
    let before = ci.desired_counts();
    let (_clock, path) = clock_path(&ci);
    let hourly_result = |trigger: &str, now: &str| {
        let (workflow, job) = match trigger {
            "park" => ("park-infrastructure", "park-prod-env"),
            _ => ("unpark-infrastructure", "unpark-prod-env"),
        };
        let set = documented_trigger(trigger);
        let set: Vec<(&str, bool)> = set.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let pipeline = Pipeline::new(c, "main", "scheduled_pipeline", &set);
        let _ = std::fs::remove_dir_all(ci.path("reports"));
        let args = pipeline.job_arguments(c, workflow, job);
        ci.run_job(
            job,
            &args,
            &[("PATH", path.as_str()), ("PARK_TEST_NOW", now)],
            None,
        )
    };
    let hourly = |trigger: &str, now: &str| -> Ended {
        hourly_result(trigger, now).unwrap_or_else(|(step, code, stderr)| {
            panic!("{trigger} at {now}: step `{step}` exited {code}:\n{stderr}")
        })
    };
    let parked = |ci: &Ci| ci.desired_counts().iter().all(|(_, d)| *d == 0);
    for (season, park_before, park_at, unpark_before, unpark_at) in [
        (
            "summer (BST)",
            "2026-07-06T17:00:00Z",
            "2026-07-06T18:00:00Z",
            "2026-07-07T05:00:00Z",
            "2026-07-07T06:00:00Z",
        ),
        (
            "winter (GMT)",
            "2026-12-07T18:00:00Z",
            "2026-12-07T19:00:00Z",
            "2026-12-08T06:00:00Z",
            "2026-12-08T07:00:00Z",
        ),
    ] {
        // 18:00 local: not due; the job ends after `park down`, nothing changed.
        assert_eq!(
            hourly("park", park_before),
            Ended::Halted("park down --scheduled".into()),
            "{season}"
        );
        let run = ci.report("reports/park-down.json");
        assert_eq!(run["schedule"]["decision"], "not-due", "{season}: {run}");
        assert_eq!(run["clock"]["now"], park_before, "{season}: {run}");
        assert_eq!(ci.desired_counts(), before, "{season}");
        assert!(!ci.path("reports/park-status.json").exists());
        // 19:00 local: parked, and the status check finds it where the schedule expects.
        assert_eq!(hourly("park", park_at), Ended::Completed, "{season}");
        assert_eq!(
            ci.report("reports/park-down.json")["schedule"]["decision"],
            "act"
        );
        assert!(parked(&ci), "{season}: {:?}", ci.desired_counts());
        let status = ci.report("reports/park-status.json");
        assert_eq!(status["schedule"]["state"], "on-schedule", "{status}");
        // 06:00 local: not due; still parked, the endpoints of a parked environment not
        // checked.
        assert_eq!(
            hourly("unpark", unpark_before),
            Ended::Halted("park up --scheduled".into()),
            "{season}"
        );
        assert!(parked(&ci), "{season}");
        assert!(!ci.path("reports/endpoints.json").exists());
        if season.starts_with("winter") {
            // 07:00 local: Terraform holds the state lock (an apply); the unpark waits
            // the file's lock_timeout (2 s here, not the reference's 5 minutes), is
            // refused, the job fails and the team hears of it now.
            let file = ci.path("examples/prod/prod.env.hcl");
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.contains("lock_timeout   = \"5m\""), "{text}");
            std::fs::write(
                &file,
                text.replace("lock_timeout   = \"5m\"", "lock_timeout   = \"2s\""),
            )
            .unwrap();
            let env =
                infra_core::Environment::load(&ci.path("examples/prod/prod.env.hcl")).unwrap();
            let state_lock::Backend::S3(backend) = state_lock::backend::read(&env).unwrap() else {
                panic!("the reference environment has an s3 backend")
            };
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let sdk = runtime.block_on(ci.session.sdk_config());
            let lock = state_lock::StateLock::new(&sdk, backend);
            let mut info = state_lock::LockInfo::new("OperationTypeApply", "1.0.3", lock.backend());
            info.who = "alice@laptop".into();
            runtime
                .block_on(lock.acquire(&info, std::time::Duration::ZERO))
                .unwrap();
            let sent = ci.stubs.requests(SLACK_PATH).len();
            let (step, code, _) = hourly_result("unpark", unpark_at).unwrap_err();
            assert_eq!(
                (step.as_str(), code),
                ("park up --scheduled", 4),
                "{season}"
            );
            assert!(parked(&ci), "{season}: refused, nothing changed");
            let told = ci.stubs.requests(SLACK_PATH);
            assert_eq!(told.len(), sent + 1, "one Slack message");
            assert!(
                told[sent].json().to_string().contains("refused"),
                "{}",
                told[sent].json()
            );
            runtime.block_on(lock.release(&info)).unwrap();
            // 08:00 local: caught up, exactly, and the endpoints answer.
            assert_eq!(
                hourly("unpark", "2026-12-08T08:00:00Z"),
                Ended::Completed,
                "{season}"
            );
            let run = ci.report("reports/park-up.json");
            assert_eq!(run["schedule"]["decision"], "caught-up", "{run}");
            assert_eq!(
                run["schedule"]["made_up_for"], "2026-12-08T07:00:00+00:00",
                "{run}"
            );
        } else {
            // 07:00 local: unparked exactly, and the endpoints answer.
            assert_eq!(hourly("unpark", unpark_at), Ended::Completed, "{season}");
        }
        assert_eq!(ci.desired_counts(), before, "{season}");
        let status = ci.report("reports/park-status.json");
        assert_eq!(status["schedule"]["state"], "on-schedule", "{status}");
        assert!(ci.path("reports/endpoints.json").exists());
        // The next hour: on schedule, nothing to do, the job ends green after its step.
        let next = if season.starts_with("winter") {
            "2026-12-08T09:00:00Z"
        } else {
            "2026-07-07T07:00:00Z"
        };
        assert_eq!(
            hourly("unpark", next),
            Ended::Halted("park up --scheduled".into()),
            "{season}"
        );
        assert_eq!(
            ci.report("reports/park-up.json")["schedule"]["decision"],
            "on-schedule"
        );
    }
}

/// The hourly non-production job, with the parameters the config's header documents: one
/// `park down --scheduled` and one `park up --scheduled` over examples/non-prod, each
/// environment deciding from its own schedule (staging 08:00-18:00, QA 09:00-17:00,
/// London, working days). Run at fixed instants of a winter Monday and Tuesday through the
/// clock stand-in: at 17:00 only QA parks; at 18:00 staging does; at 08:00 staging
/// unparks; at 09:00 QA does. Production is not touched by any of them.
#[test]
fn the_hourly_non_prod_job_parks_and_unparks_each_environment_on_its_own_schedule() {
    let ci = Ci::new();
    let c = &ci.config;
    copy_dir(
        &infra_test_support::workspace_root().join("examples/non-prod"),
        &ci.path("examples/non-prod"),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sdk = runtime.block_on(ci.session.sdk_config());
    for name in ["staging", "qa"] {
        let env =
            infra_core::Environment::load(&ci.path(&format!("examples/non-prod/{name}.env.hcl")))
                .unwrap();
        runtime
            .block_on(infra_test_support::seed_with(
                &sdk,
                &env,
                &[],
                &Default::default(),
            ))
            .unwrap();
    }
    let prod_before = ci.desired_counts();
    let counts = |name: &str| -> Vec<i64> {
        ci.desired_counts_of(&format!("examples/non-prod/{name}.env.hcl"))
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    };
    let (staging_up, qa_up) = (counts("staging"), counts("qa"));
    assert_eq!(
        (staging_up.as_slice(), qa_up.as_slice()),
        (&[1, 1, 1][..], &[1, 2][..])
    );

    let set = documented_trigger("non-prod");
    let set: Vec<(&str, bool)> = set.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let pipeline = Pipeline::new(c, "main", "scheduled_pipeline", &set);
    let args = pipeline.job_arguments(c, "non-prod-environments", "converge-non-prod");
    let (_clock, path) = clock_path(&ci);
    let hourly = |now: &str| {
        let _ = std::fs::remove_dir_all(ci.path("reports"));
        let ended = ci
            .run_job(
                "converge-non-prod",
                &args,
                &[("PATH", path.as_str()), ("PARK_TEST_NOW", now)],
                None,
            )
            .unwrap_or_else(|(step, code, stderr)| {
                panic!("at {now}: step `{step}` exited {code}:\n{stderr}")
            });
        assert_eq!(ended, Ended::Completed, "{now}");
        let down = ci.report("reports/non-prod-down.json");
        assert_eq!(down["schema"], "park/multi", "{down}");
        assert_eq!(down["environments"].as_array().unwrap().len(), 2, "{down}");
    };
    let parked = |v: &[i64]| v.iter().all(|d| *d == 0);

    hourly("2026-12-07T17:00:00Z");
    assert!(parked(&counts("qa")), "17:00: QA parked");
    assert_eq!(counts("staging"), staging_up, "17:00: staging still up");
    hourly("2026-12-07T18:00:00Z");
    assert!(parked(&counts("staging")), "18:00: staging parked");
    assert!(parked(&counts("qa")));
    hourly("2026-12-08T08:00:00Z");
    assert_eq!(counts("staging"), staging_up, "08:00: staging unparked");
    assert!(parked(&counts("qa")), "08:00: QA not yet");
    hourly("2026-12-08T09:00:00Z");
    assert_eq!(counts("qa"), qa_up, "09:00: QA unparked exactly");
    assert_eq!(counts("staging"), staging_up);
    let up = ci.report("reports/non-prod-up.json");
    let decisions: Vec<&str> = up["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["report"]["schedule"]["decision"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        decisions,
        ["act", "on-schedule"],
        "qa acts, staging is on schedule: {up}"
    );
    assert_eq!(ci.desired_counts(), prod_before, "production untouched");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
