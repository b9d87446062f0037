//! The `locals` rewriter: generated files (property tests) and the real-world corpus. In
//! every case the output must equal the input with exactly the tag's span replaced.

// Prints on purpose: the test's own diagnostics.
#![allow(clippy::disallowed_macros)]

use infra_core::locals::{find_pin, rewrite_pin};
use proptest::prelude::*;
use std::path::Path;

#[track_caller]
fn check_rewrite(text: &str, local: &str, old_tag: &str, new_tag: &str) {
    let pin = find_pin(text, local).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    assert_eq!(pin.tag, old_tag);
    assert_eq!(&text[pin.tag_span.clone()], old_tag);
    let out = rewrite_pin(text, &pin, new_tag).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    let expected = format!(
        "{}{}{}",
        &text[..pin.tag_span.start],
        new_tag,
        &text[pin.tag_span.end..]
    );
    assert_eq!(out, expected);
}

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
    ) -> (String, String) {
        let image = if template { "${local.ecr_repository}".to_owned() } else { "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data".to_owned() };
        let mut lines = before.clone();
        lines.push("locals {".to_owned());
        // Names made unique: a local defined twice is not valid HCL.
        lines.extend(locals_before.iter().enumerate().map(|(i, l)| format!("  {}", l.replace("other_", &format!("before{i}_")))));
        lines.push(format!("  pinned_image{} = \"{image}:{old}\"{trailing}", " ".repeat(pad)));
        lines.extend(locals_after.iter().enumerate().map(|(i, l)| format!("  {}", l.replace("other_", &format!("after{i}_")))));
        lines.push("}".to_owned());
        lines.extend(after.iter().cloned());
        let le = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join("\n").replace('\n', le);
        if final_newline {
            text.push_str(le);
        }
        (text, old)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_files_change_only_the_tag((text, old) in tf_file(), new in tag()) {
        check_rewrite(&text, "pinned_image", &old, &new);
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
