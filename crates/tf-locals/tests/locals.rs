//! The `locals` rewriter: generated files (property tests, tag and digest pins) and the
//! real-world corpus. In every case the output must equal the input with exactly the
//! reference's span (the tag, and `@DIGEST` when there is one) replaced.

// Prints on purpose: the test's own diagnostics.
#![allow(clippy::disallowed_macros)]

use proptest::prelude::*;
use std::path::Path;
use tf_locals::{find_pin, reference, rewrite_pin};

#[track_caller]
fn check_rewrite(text: &str, local: &str, old_tag: &str, new_tag: &str) {
    check_digest_rewrite(text, local, (old_tag, None), (new_tag, None));
}

/// Reads `old` (tag, digest) from the file, rewrites it to `new`, and checks that only the
/// reference's bytes changed and that rewriting `old` back restores the file.
#[track_caller]
fn check_digest_rewrite(
    text: &str,
    local: &str,
    old: (&str, Option<&str>),
    new: (&str, Option<&str>),
) {
    let pin = find_pin(text, local).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    assert_eq!((pin.tag.as_str(), pin.digest.as_deref()), old);
    assert_eq!(&text[pin.tag_span.clone()], old.0);
    assert_eq!(
        &text[pin.reference_span.clone()],
        reference("", old.0, old.1).trim_start_matches(':')
    );
    let out = rewrite_pin(text, &pin, new.0, new.1).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    let expected = format!(
        "{}{}{}",
        &text[..pin.reference_span.start],
        reference("", new.0, new.1).trim_start_matches(':'),
        &text[pin.reference_span.end..]
    );
    assert_eq!(out, expected);
    let again = find_pin(&out, local).unwrap();
    assert_eq!(rewrite_pin(&out, &again, old.0, old.1).unwrap(), text);
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const NEW_DIGEST: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn chunk() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("# a comment with a \"quote\" and image:tag".to_owned()),
        Just("// another comment".to_owned()),
        Just("/* block\n   comment */".to_owned()),
        Just(String::new()),
        "[a-z]{1,8}"
            .prop_map(|n| format!("variable \"{n}\" {{\n  default = \"a\\nb \\u00e9 ${{x}}\"\n}}")),
        "[a-z]{1,8}".prop_map(|n| format!(
            "resource \"aws_x\" \"{n}\" {{\n  image = \"other/repo:tag\"\n  count = 3\n}}"
        )),
        "[a-z]{1,8}".prop_map(|n| format!("output \"{n}\" {{ value = local.{n} }}")),
    ]
}

fn other_local() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}".prop_map(|n| format!("other_{n} = \"x:y\"")),
        "[a-z]{1,6}".prop_map(|n| format!("other_{n}       = 42 # aligned")),
        "[a-z]{1,6}".prop_map(|n| format!("other_{n} = {{\n    k = \"v\\t\"\n  }}")),
        "[a-z]{1,6}".prop_map(|n| format!("# about other_{n}\n  other_{n} = [\"a:b\", \"c\"]")),
    ]
}

fn tag() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,30}"
}

fn digest() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")))
}

prop_compose! {
    fn tf_file()(
        crlf in any::<bool>(),
        before in prop::collection::vec(chunk(), 0..4),
        after in prop::collection::vec(chunk(), 0..4),
        locals_before in prop::collection::vec(other_local(), 0..3),
        locals_after in prop::collection::vec(other_local(), 0..3),
        template in any::<bool>(),
        pad in 0usize..6,
        trailing in prop_oneof![Just(""), Just(" # pinned"), Just(" // pinned"), Just(" /* pinned */")],
        final_newline in any::<bool>(),
        old in tag(),
        old_digest in digest(),
    ) -> (String, String, Option<String>) {
        let image = if template { "${local.ecr_repository}".to_owned() } else { "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data".to_owned() };
        let mut lines = before.clone();
        lines.push("locals {".to_owned());
        // Names made unique: a local defined twice is not valid HCL.
        lines.extend(locals_before.iter().enumerate().map(|(i, l)| format!("  {}", l.replace("other_", &format!("before{i}_")))));
        lines.push(format!("  pinned_image{} = \"{}\"{trailing}", " ".repeat(pad), reference(&image, &old, old_digest.as_deref())));
        lines.extend(locals_after.iter().enumerate().map(|(i, l)| format!("  {}", l.replace("other_", &format!("after{i}_")))));
        lines.push("}".to_owned());
        lines.extend(after.iter().cloned());
        let le = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join("\n").replace('\n', le);
        if final_newline {
            text.push_str(le);
        }
        (text, old, old_digest)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_files_change_only_the_reference(
        (text, old, old_digest) in tf_file(),
        new in tag(),
        new_digest in digest(),
    ) {
        check_digest_rewrite(
            &text,
            "pinned_image",
            (&old, old_digest.as_deref()),
            (&new, new_digest.as_deref()),
        );
    }
}

/// Every file of the real-world corpus that hcl-edit parses, with a pinned local added
/// (in a new `locals` block at the end, and inside the file's own first `locals` block when
/// it has one), rewrites to exactly the input with the tag replaced.
#[test]
fn corpus_files_with_a_pin_change_only_the_tag() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/tf-corpus");
    let (mut files, mut checked, mut inside) = (0, 0, 0);
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        files += 1;
        if hcl_edit::parser::parse_body(&text).is_err() || text.contains("pinned_image") {
            continue;
        }
        let le = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            le
        };
        let appended = format!(
            "{text}{sep}locals {{{le}  pinned_image = \"r.example/app:v1\" # pin{le}}}{le}"
        );
        check_rewrite(&appended, "pinned_image", "v1", "v2-abc1234");
        let with_digest = appended.replace(":v1\"", &format!(":v1@{DIGEST}\""));
        check_digest_rewrite(
            &with_digest,
            "pinned_image",
            ("v1", Some(DIGEST)),
            ("v2-abc1234", Some(NEW_DIGEST)),
        );
        checked += 1;
        // A top-level `locals {` that ends its line.
        let top = if text.starts_with("locals {") {
            Some(0)
        } else {
            text.find("\nlocals {").map(|i| i + 1)
        };
        if let Some(at) = top {
            let rest = &text[at + "locals {".len()..];
            if rest.starts_with('\n') || rest.starts_with("\r\n") {
                let split = at + "locals {".len() + if rest.starts_with('\n') { 1 } else { 2 };
                let within = format!(
                    "{}  pinned_image = \"${{local.repo}}:v1\"{le}{}",
                    &text[..split],
                    &text[split..]
                );
                if hcl_edit::parser::parse_body(&within).is_ok() {
                    check_rewrite(&within, "pinned_image", "v1", "v2");
                    inside += 1;
                }
            }
        }
    }
    assert!(files > 700, "{files} corpus files");
    assert!(
        checked > 600,
        "only {checked} of {files} corpus files parsed"
    );
    assert!(
        inside > 10,
        "only {inside} files with their own locals block"
    );
    eprintln!(
        "corpus: {checked} of {files} files rewritten, {inside} inside an existing locals block"
    );
}
