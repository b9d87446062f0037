//! The properties the fuzz targets check, one function per target, shared by the
//! `cargo fuzz` targets in `fuzz/` and by this crate's corpus test (`tests/corpus.rs`), which
//! runs every file of `fuzz/corpus/TARGET/` through the same function in `scripts/test`.
//!
//! Each function takes arbitrary bytes, panics only when a property fails, and returns how
//! many deep checks the input reached (located problems, accepted files, round-tripped pins,
//! summarised changes), so the corpus test can tell a corpus that exercises nothing:
//! - [`env_file`]: the environment-file loader never panics; a rejected file's problems all
//!   point inside the text and the message names the file; an accepted file is accepted again
//!   with the same result.
//! - [`locals`]: the `locals` locator never panics on any local of any file; when it finds a
//!   pin, its tag span holds exactly its tag and its reference span the tag and `@DIGEST`; a
//!   rewrite (to a tag alone, and to a tag with a digest) that succeeds changes only the
//!   reference's bytes, reads back as the new reference, and rewriting the old one back
//!   restores the original text byte for byte.
//! - [`plan_json`]: the plan-JSON reader and summariser never panic; the summary accounts for
//!   every resource change exactly once; the gates refuse every destruction of a protected
//!   type and only resources the plan changes.

#![forbid(unsafe_code)]

use infra_core::environment::DEFAULT_PROTECTED_TYPES;
use infra_core::Environment;
use std::path::Path;
use tf_locals::{find_pin, is_valid_tag, reference, rewrite_pin, LocalsError};
use tf_wrap::gates::{self, GateOptions, Parked};
use tf_wrap::plan::{Action, PlanJson, Summary};

/// The path environment-file errors are reported against.
pub const ENV_FILE_PATH: &str = "fuzz/prod.env.hcl";

/// The tag [`locals`] rewrites pins to.
pub const NEW_TAG: &str = "fuzz-3-python3.12-0123abc";

/// The digest [`locals`] adds to pins.
pub const NEW_DIGEST: &str =
    "sha256:5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

/// Checks the environment-file loader on `data`.
pub fn env_file(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let path = Path::new(ENV_FILE_PATH);
    match Environment::parse(text, path) {
        Ok(env) => {
            let again = Environment::parse(text, path).expect("accepted once, accepted again");
            assert_eq!(
                serde_json::to_string(&env).unwrap(),
                serde_json::to_string(&again).unwrap(),
                "the same file gives the same environment"
            );
            1
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(ENV_FILE_PATH),
                "the message names the file: {message}"
            );
            let lines = text.split('\n').count();
            for problem in err.problems() {
                assert!(
                    problem.at.line >= 1 && problem.at.line <= lines && problem.at.column >= 1,
                    "{}:{} is inside the {lines}-line text: {message}",
                    problem.at.line,
                    problem.at.column
                );
                assert!(!problem.message.is_empty());
            }
            err.problems().len()
        }
    }
}

/// Checks the `locals` locator and rewriter on `data`, a Terraform file: for every local
/// its top-level `locals` blocks define (at most 32), or for `image` when it does not parse.
pub fn locals(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let names: Vec<String> = match hcl_edit::parser::parse_body(text) {
        Ok(body) => body
            .blocks()
            .filter(|b| b.has_ident("locals"))
            .flat_map(|b| b.body.attributes().map(|a| a.key.as_str().to_owned()))
            .take(32)
            .collect(),
        Err(_) => vec!["image".to_owned()],
    };
    names.iter().map(|name| local(text, name)).sum()
}

/// Checks the locator and rewriter on one local of `text`; 1 when a pin was rewritten and
/// read back.
pub fn local(text: &str, local: &str) -> usize {
    let pin = match find_pin(text, local) {
        Ok(pin) => pin,
        Err(err) => {
            let _ = err.to_string();
            return 0;
        }
    };
    assert_eq!(
        text.get(pin.tag_span.clone()),
        Some(pin.tag.as_str()),
        "the span holds the tag"
    );
    let old = reference("", &pin.tag, pin.digest.as_deref());
    assert_eq!(
        text.get(pin.reference_span.clone()),
        Some(&old[1..]),
        "the reference span holds the tag and digest"
    );
    assert!(
        pin.value.ends_with(&old[1..]),
        "{:?} ends with {old:?}",
        pin.value
    );
    let mut rewritten = 0;
    for digest in [None, Some(NEW_DIGEST)] {
        let out = match rewrite_pin(text, &pin, NEW_TAG, digest) {
            Ok(out) => out,
            // The rewriter's own check refused: nothing would be written. That is its job.
            Err(LocalsError::Verification(_) | LocalsError::Unsupported { .. }) => continue,
            Err(err) => panic!("rewrite to a valid reference failed: {err}"),
        };
        let new = reference("", NEW_TAG, digest);
        let (start, end) = (pin.reference_span.start, pin.reference_span.end);
        assert_eq!(
            &out[..start],
            &text[..start],
            "bytes before the reference unchanged"
        );
        assert_eq!(&out[start..start + new.len() - 1], &new[1..]);
        assert_eq!(
            &out[start + new.len() - 1..],
            &text[end..],
            "bytes after the reference unchanged"
        );
        let again = find_pin(&out, local).expect("the rewritten file reads back");
        assert_eq!(
            (again.tag.as_str(), again.digest.as_deref()),
            (NEW_TAG, digest)
        );
        assert_eq!(again.image, pin.image);
        if is_valid_tag(&pin.tag) {
            let back = rewrite_pin(&out, &again, &pin.tag, pin.digest.as_deref())
                .expect("the old reference goes back");
            assert_eq!(
                back, text,
                "rewriting the old reference back restores the file"
            );
        }
        rewritten = 1;
    }
    rewritten
}

/// Checks the plan-JSON reader, the summary and the gates on `data`.
pub fn plan_json(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let plan = match PlanJson::parse(text) {
        Ok(plan) => plan,
        Err(err) => {
            let _ = err.to_string();
            return 0;
        }
    };
    let summary = Summary::of(&plan);
    let counted = summary.create.len()
        + summary.update.len()
        + summary.replace.len()
        + summary.delete.len()
        + summary.read.len();
    let changing = plan
        .resource_changes
        .iter()
        .filter(|rc| rc.action() != Action::NoOp)
        .count();
    assert_eq!(counted, changing, "every change counted once");
    let _ = (
        summary.to_text(),
        summary.to_markdown(),
        summary.digest(),
        serde_json::to_string(&summary).unwrap(),
    );

    let options = GateOptions {
        protected_types: DEFAULT_PROTECTED_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        ..GateOptions::default()
    };
    let refused = gates::destroy_gate(&plan, &options);
    for rc in &plan.resource_changes {
        let managed = !rc.is_data();
        if managed && rc.action().destroys() && options.protected_types.contains(&rc.kind) {
            assert!(
                refused.iter().any(|r| r.address == rc.address),
                "{} destroys a protected {}; refused",
                rc.address,
                rc.kind
            );
        }
    }
    let parked = [
        Parked::Service {
            cluster: "blog-prod".into(),
            service: "portal".into(),
        },
        Parked::Aurora {
            cluster: "blog-aurora".into(),
        },
    ];
    let refusals = gates::evaluate(&plan, &parked, &options);
    for refusal in &refusals {
        assert!(
            plan.resource_changes
                .iter()
                .any(|rc| rc.address == refusal.address && rc.action() != Action::NoOp),
            "{} is refused but the plan does not change it",
            refusal.address
        );
    }
    let allowed = GateOptions {
        allow_unpark: true,
        allow_destroy: refused.iter().map(|r| r.address.clone()).collect(),
        ..options
    };
    assert!(
        gates::evaluate(&plan, &parked, &allowed).is_empty(),
        "every refusal can be allowed explicitly"
    );
    1 + plan.resource_changes.len() + refusals.len()
}
