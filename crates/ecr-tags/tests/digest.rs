//! Digest pins (`REPO:TAG@sha256:…`) on a working copy of the reference environment: read
//! and checked by `pins`, kept (or added with --with-digest) by `bump`, byte for byte; a
//! digest that is not its tag's is `digest-mismatch` (exit 3 with --check) and refused by
//! `bump` (exit 4, nothing written).

use crate::support::{Ecr, WorkingCopy};

const PINNED: &str = "prefect-deployer-3-python3.12-4f2a9c1";
const NEWEST: &str = "prefect-deployer-3-python3.12-9e8d7c6";

/// ECR's digest of `tag`, from `ecr-tags latest --repository --pattern`.
fn digest_of(ecr: &Ecr, tag: &str) -> String {
    let r = ecr.run(
        None,
        &[
            "latest",
            "--repository",
            "blog-data",
            "--pattern",
            &regex_escape(tag),
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()["digest"].as_str().unwrap().to_owned()
}

fn regex_escape(tag: &str) -> String {
    tag.replace('.', "\\.")
}

#[test]
fn digest_pins_are_checked_kept_and_refused_when_wrong() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let (pinned_digest, newest_digest) = (digest_of(&ecr, PINNED), digest_of(&ecr, NEWEST));
    assert_ne!(pinned_digest, newest_digest);
    // The reference file, with CRLF line endings and the deployer pinned by digest too.
    let original = std::fs::read_to_string(&wc.main_tf)
        .unwrap()
        .replace(PINNED, &format!("{PINNED}@{pinned_digest}"))
        .replace('\n', "\r\n");
    std::fs::write(&wc.main_tf, &original).unwrap();
    let run = |args: &[&str]| ecr.run(Some(&wc.env_file), args);

    let r = run(&["pins", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["schema_version"], 2);
    let row = &v["pins"][1];
    assert_eq!(row["current"], PINNED, "{row}");
    assert_eq!(row["pinned_digest"], pinned_digest.as_str());
    assert_eq!(row["digest"], pinned_digest.as_str());
    assert_eq!(row["status"], "behind");

    // bump keeps the form: the new tag with the new tag's digest, nothing else changed.
    let r = run(&["bump", "prefect_deployer_image", "--output", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pins_digest"], true);
    let bumped = original.replace(
        &format!("{PINNED}@{pinned_digest}"),
        &format!("{NEWEST}@{newest_digest}"),
    );
    assert_eq!(std::fs::read_to_string(&wc.main_tf).unwrap(), bumped);
    let r = run(&["bump", "prefect_deployer_image"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&wc.main_tf).unwrap(), bumped);
    assert_eq!(run(&["pins", "--check"]).code, 0);

    // A digest that is not the tag's (here the older image's): pins says so, --check is
    // exit 3, and bump refuses with exit 4, writing nothing.
    let wrong = bumped.replace(&newest_digest, &pinned_digest);
    std::fs::write(&wc.main_tf, &wrong).unwrap();
    let r = run(&["pins", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = &r.json()["pins"][1];
    assert_eq!(row["status"], "digest-mismatch", "{row}");
    assert!(
        row["notes"][0].as_str().unwrap().contains(&newest_digest),
        "the note names ECR's digest: {row}"
    );
    assert_eq!(run(&["pins", "--check"]).code, 3);
    let r = run(&["bump", "prefect_deployer_image", "--to", NEWEST]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("main.tf:"),
        "names the place: {}",
        r.stderr
    );
    assert!(r.stderr.contains("two different images"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&wc.main_tf).unwrap(), wrong);
}

#[test]
fn with_digest_adds_the_digest_to_a_tag_pin() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let original = std::fs::read_to_string(&wc.main_tf).unwrap();
    let pinned_digest = digest_of(&ecr, PINNED);
    let run = |args: &[&str]| ecr.run(Some(&wc.env_file), args);

    let add_digest = || {
        run(&[
            "bump",
            "prefect_deployer_image",
            "--to",
            PINNED,
            "--with-digest",
        ])
    };
    // Same tag, digest added: a change of the reference alone.
    let r = add_digest();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let expected = original.replace(PINNED, &format!("{PINNED}@{pinned_digest}"));
    assert_eq!(std::fs::read_to_string(&wc.main_tf).unwrap(), expected);
    let r = add_digest();
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
    let r = run(&["pins", "--output", "json"]);
    assert_eq!(r.json()["pins"][1]["pinned_digest"], pinned_digest.as_str());
}
