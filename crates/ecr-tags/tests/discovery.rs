//! `ecr-tags latest`: the right family, the newest image, every page, ties and mutability.

use crate::support::Ecr;
use aws_sdk_ecr::types::ImageTagMutability;

const DEPLOYER: &str = "^prefect-deployer-3-python3\\.12-(?P<sha>[0-9a-f]{7,40})$";

#[test]
fn newest_of_the_family_in_a_repository_of_2000_images() {
    let ecr = Ecr::new();
    ecr.repository("blog-data", ImageTagMutability::Immutable, &[]);
    // Noise: 1,990 images of other families, pushed fast.
    ecr.push_many(
        "blog-data",
        (0..1990).map(|i| format!("noise-{i:04}")).collect(),
    );
    ecr.push("blog-data", "base", &["prefect-3-python3.12-ecs"]);
    ecr.push("blog-data", "untagged-1", &[]);
    ecr.push("blog-data", "untagged-2", &[]);
    // Three deployer builds, each in a later second; the newest also carries a second
    // family tag (the full sha) and a non-family tag.
    ecr.next_second();
    ecr.push(
        "blog-data",
        "d1",
        &["prefect-deployer-3-python3.12-1a2b3c4"],
    );
    ecr.next_second();
    ecr.push(
        "blog-data",
        "d2",
        &["prefect-deployer-3-python3.12-4f2a9c1"],
    );
    ecr.next_second();
    ecr.push(
        "blog-data",
        "d3",
        &[
            "prefect-deployer-3-python3.12-9e8d7c6",
            "prefect-deployer-3-python3.12-9e8d7c6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "release-42",
        ],
    );
    // A newer image of another family must not win.
    ecr.next_second();
    ecr.push("blog-data", "noise-new", &["noise-newest"]);

    let r = ecr.run(
        None,
        &[
            "latest",
            "--repository",
            "blog-data",
            "--pattern",
            DEPLOYER,
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["schema"], "ecr-tags/latest");
    assert_eq!(
        v["tag"], "prefect-deployer-3-python3.12-9e8d7c6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "greatest family tag of the newest image"
    );
    assert_eq!(
        v["other_tags"],
        serde_json::json!(["prefect-deployer-3-python3.12-9e8d7c6"])
    );
    assert_eq!(v["sha"], "9e8d7c6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["pushed_at_text"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        v["uri"],
        format!(
            "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{}",
            v["tag"].as_str().unwrap()
        )
    );

    // The text form is the tag alone, for scripts.
    let r = ecr.run(
        None,
        &[
            "latest",
            "--repository",
            "blog-data",
            "--pattern",
            "^prefect-3-python3\\.12-ecs$",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "prefect-3-python3.12-ecs\n"),
        "{}",
        r.stderr
    );

    let r = ecr.run(
        None,
        &[
            "latest",
            "--repository",
            "blog-data",
            "--pattern",
            "^nothing-.*$",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no tag in repository blog-data matches `^nothing-.*$`"),
        "{}",
        r.stderr
    );
}

#[test]
fn equal_push_times_are_an_error_listing_the_candidates() {
    let ecr = Ecr::new();
    ecr.repository("r", ImageTagMutability::Immutable, &[]);
    ecr.next_second();
    ecr.push("r", "a", &["build-1"]);
    ecr.push("r", "b", &["build-2"]);
    let r = ecr.run(
        None,
        &["latest", "--repository", "r", "--pattern", "build-[0-9]+"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("2 images with different digests were pushed at"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("build-2 (sha256:") && r.stderr.contains("build-1 (sha256:"),
        "{}",
        r.stderr
    );
}

#[test]
fn tags_that_can_be_overwritten_are_refused() {
    let ecr = Ecr::new();
    ecr.repository("mutable", ImageTagMutability::Mutable, &[]);
    ecr.repository(
        "iwe-dev",
        ImageTagMutability::ImmutableWithExclusion,
        &["dev-*"],
    );
    ecr.repository(
        "mwe-prod",
        ImageTagMutability::MutableWithExclusion,
        &["prod-*"],
    );
    for repo in ["mutable", "iwe-dev", "mwe-prod"] {
        ecr.push(repo, &format!("{repo}-dev"), &["dev-1"]);
        ecr.push(repo, &format!("{repo}-prod"), &["prod-1"]);
    }
    let latest = |repo: &str, pattern: &str, extra: &[&str]| {
        let mut args = vec!["latest", "--repository", repo, "--pattern", pattern];
        args.extend_from_slice(extra);
        ecr.run(None, &args)
    };
    let r = latest("mutable", "prod-[0-9]+", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("the repository's tags are MUTABLE")
            && r.stderr.contains("--allow-mutable"),
        "{}",
        r.stderr
    );
    assert_eq!(
        latest("mutable", "prod-[0-9]+", &["--allow-mutable"]).code,
        0
    );

    let r = latest("iwe-dev", "dev-[0-9]+", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("IMMUTABLE_WITH_EXCLUSION and exclusion filter `dev-*`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        latest("iwe-dev", "prod-[0-9]+", &[]).code,
        0,
        "prod tags are immutable there"
    );

    let r = latest("mwe-prod", "dev-[0-9]+", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("MUTABLE_WITH_EXCLUSION and no exclusion filter covers this tag"),
        "{}",
        r.stderr
    );
    assert_eq!(
        latest("mwe-prod", "prod-[0-9]+", &[]).code,
        0,
        "prod tags are excluded from mutability"
    );
}

#[test]
fn bad_input_is_exit_2() {
    let ecr = Ecr::new();
    let r = ecr.run(
        None,
        &["latest", "--repository", "r", "--pattern", "(unclosed"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--pattern `(unclosed` is not a valid regular expression"),
        "{}",
        r.stderr
    );
    let r = ecr.run(None, &["latest"]);
    assert_eq!(r.code, 2);
    let wc = crate::support::WorkingCopy::seeded(&ecr);
    let r = ecr.run(Some(&wc.env_file), &["latest", "prefect_deployr_image"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no image `prefect_deployr_image` in the environment file (known: prefect_base_image, prefect_deployer_image)"), "{}", r.stderr);

    // Bad input is refused before any AWS call, the account guard's included.
    let proxy = infra_test_support::Proxy::start(ecr.session.endpoint());
    for args in [
        &["latest", "--repository", "r", "--pattern", "(unclosed"][..],
        &["latest", "prefect_deployr_image"],
        &["bump", "prefect_deployr_image"],
    ] {
        let r = ecr.run_via(proxy.endpoint(), Some(&wc.env_file), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    assert!(proxy.calls().is_empty(), "{:?}", proxy.calls());
}
