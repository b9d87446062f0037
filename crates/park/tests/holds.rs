//! Holds against the emulator: a held `park down` changes nothing and exits 0 naming the
//! holder and the reason; after `park release` or expiry it parks; `park up --hold-until`
//! then `park down` is held; bad holds exit 2 with nothing written.

use crate::support::Fleet;

/// The hold tags on the fleet's ECS cluster, read with the SDK (not through park).
fn cluster_tags(fleet: &Fleet) -> Vec<(String, String)> {
    let out = fleet
        .block_on(
            aws_sdk_ecs::Client::new(&fleet.config)
                .describe_clusters()
                .clusters("fleet")
                .include(aws_sdk_ecs::types::ClusterField::Tags)
                .send(),
        )
        .unwrap();
    let mut tags: Vec<(String, String)> = out.clusters()[0]
        .tags()
        .iter()
        .filter(|t| t.key().is_some_and(|k| k.starts_with("infra-park:hold")))
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    tags.sort();
    tags
}

/// Writes hold tags directly, as an earlier run would have (an end in the past cannot be
/// asked of `park hold`).
fn write_hold_tags(fleet: &Fleet, value: &str, reason: &str) {
    let arn = "arn:aws:ecs:eu-west-2:123456789012:cluster/fleet";
    let tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
    fleet
        .block_on(
            aws_sdk_ecs::Client::new(&fleet.config)
                .tag_resource()
                .resource_arn(arn)
                .tags(tag("infra-park:hold", value))
                .tags(tag("infra-park:hold-reason", reason))
                .send(),
        )
        .unwrap();
}

#[test]
fn a_held_environment_is_not_parked_until_the_hold_is_released() {
    let fleet = Fleet::new(4);
    let before = fleet.snapshot();
    let r = fleet.park(&[
        "hold",
        "--until",
        "3h",
        "--reason",
        "release testing with the data team",
        "--by",
        "alice",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["schema"], "park/hold");
    assert_eq!(json["action"], "placed");
    assert_eq!(json["hold"]["by"], "alice");
    assert_eq!(json["clusters"], serde_json::json!(["fleet"]));
    let tags = cluster_tags(&fleet);
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(tags[0].1.starts_with("v1 until=") && tags[0].1.contains(" by=alice "));
    assert_eq!(tags[1].1, "release testing with the data team");

    // The nightly job: exit 0, nothing changed, the holder and the reason named.
    fleet.proxy.clear();
    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["hold"]["result"], "held", "{json}");
    assert_eq!(json["hold"]["by"], "alice");
    assert_eq!(json["hold"]["reason"], "release testing with the data team");
    assert_eq!(json["resources"], serde_json::json!([]));
    assert!(
        fleet.mutations().iter().all(|m| m.starts_with("dynamodb:")),
        "only the lock: {:?}",
        fleet.mutations()
    );
    assert_eq!(fleet.snapshot(), before, "nothing parked");
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("by alice: release testing with the data team: nothing was parked"),
        "{}",
        r.stdout
    );

    let r = fleet.park(&["status", "--output", "json"]);
    assert_eq!(r.json()["hold"]["result"], "held");
    let r = fleet.park(&["status"]);
    assert!(r.stdout.contains("hold        held until"), "{}", r.stdout);

    let r = fleet.park(&["release", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["action"], "released");
    assert!(cluster_tags(&fleet).is_empty());
    let r = fleet.park(&["release", "--output", "json"]);
    assert_eq!((r.code, r.json()["action"].as_str()), (0, Some("none")));

    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["hold"].is_null());
    assert!(r.json()["summary"]["done"].as_u64().unwrap() > 0);
    assert!(fleet.snapshot().services.values().all(|s| s.desired == 0));
}

#[test]
fn ignore_hold_parks_with_a_warning_and_an_expired_hold_is_removed() {
    let fleet = Fleet::new(3);
    assert_eq!(
        fleet
            .park(&["hold", "--until", "2h", "--reason", "demo"])
            .code,
        0
    );
    let r = fleet.park(&["down", "--ignore-hold", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["hold"]["result"], "ignored");
    assert!(
        r.stderr
            .contains("--ignore-hold: parking although held until"),
        "{}",
        r.stderr
    );
    assert!(fleet.snapshot().services.values().all(|s| s.desired == 0));
    assert_eq!(fleet.park(&["up"]).code, 0);

    // A hold that ended yesterday: ignored, shown as expired, removed by the next park.
    write_hold_tags(
        &fleet,
        "v1 until=2026-01-01T00:00:00Z by=bob at=2025-12-31T18:00:00Z",
        "new year",
    );
    let r = fleet.park(&["status", "--output", "json"]);
    assert_eq!(r.json()["hold"]["result"], "expired");
    let r = fleet.park(&["down", "--dry-run", "--output", "json"]);
    assert_eq!(r.code, 3, "a dry run plans to park: {}", r.stderr);
    assert_eq!(cluster_tags(&fleet).len(), 2, "a dry run removes nothing");
    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["hold"]["result"], "expired-removed");
    assert_eq!(r.json()["hold"]["by"], "bob");
    assert!(cluster_tags(&fleet).is_empty());
    assert!(fleet.snapshot().services.values().all(|s| s.desired == 0));
}

#[test]
fn unpark_and_hold_in_one_step_keeps_the_next_park_away() {
    let fleet = Fleet::new(3);
    let unparked = fleet.snapshot();
    assert_eq!(fleet.park(&["down"]).code, 0);
    // A time of day half a day ahead, so the hold cannot end during the test.
    let hour = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        + 12)
        % 24;
    let until = format!("{hour:02}:00Z");
    let r = fleet.park(&[
        "up",
        "--hold-until",
        &until,
        "--reason",
        "working late on the release",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["hold"]["result"], "placed");
    assert!(r.json()["hold"]["until"]
        .as_str()
        .unwrap()
        .ends_with(&format!("T{hour:02}:00:00Z")));
    // The holder defaults to the caller's identity (the emulator's user).
    assert!(!r.json()["hold"]["by"].as_str().unwrap().is_empty());
    assert_eq!(fleet.snapshot(), unparked, "unparked");
    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["hold"]["result"], "held");
    assert_eq!(fleet.snapshot(), unparked, "held: still up");
}

#[test]
fn bad_holds_exit_2_and_write_nothing() {
    let fleet = Fleet::new(2);
    assert_eq!(fleet.park(&["down"]).code, 0);
    let parked = fleet.snapshot();
    fleet.proxy.clear();
    for (args, says) in [
        (
            &["hold", "--until", "2020-01-01T00:00:00Z", "--reason", "x"][..],
            "would end in the past",
        ),
        (
            &["hold", "--until", "8d", "--reason", "x"],
            "more than max_hold (7days) ahead",
        ),
        (
            &[
                "hold",
                "--until",
                "3h",
                "--reason",
                "deploy \"v2\"; then test",
            ],
            "does not fit an AWS tag",
        ),
        (
            &["hold", "--until", "23:00", "--reason", "x"],
            "needs its zone",
        ),
        (&["hold", "--until", "3h", "--reason", "  "], "empty"),
        (
            &["up", "--hold-until", "8d", "--reason", "x"],
            "more than max_hold",
        ),
    ] {
        let r = fleet.park(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    let r = fleet.park(&["up", "--hold-until", "3h"]);
    assert_eq!(r.code, 2, "--hold-until needs --reason: {}", r.stderr);
    assert!(
        fleet.proxy.calls().is_empty(),
        "no AWS call: {:?}",
        fleet.mutations()
    );
    assert!(cluster_tags(&fleet).is_empty());
    assert_eq!(
        fleet.snapshot(),
        parked,
        "the failed `up --hold-until` unparked nothing"
    );

    // max_hold from the environment file.
    let text = std::fs::read_to_string(&fleet.env_file).unwrap();
    let shorter = text.replacen("  region", "  max_hold = \"2h\"\n  region", 1);
    std::fs::write(&fleet.env_file, shorter).unwrap();
    let r = fleet.park(&["hold", "--until", "3h", "--reason", "x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("more than max_hold (2h) ahead"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fleet
            .park(&["hold", "--until", "90m", "--reason", "x"])
            .code,
        0
    );
}
