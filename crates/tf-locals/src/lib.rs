//! Reading and rewriting image pins in Terraform `locals`, byte-exactly; the environment
//! file's `image` blocks that declare them ([`image`]); and the `line:column` places in a
//! text every `file:line:column` error names ([`LineColumn`], a leaf here so that the
//! environment loader above can use it).
//!
//! hcl-edit parses the file only to *locate* the local; the new tag is spliced into the
//! original bytes, so comments, alignment, CRLF line endings, escapes elsewhere and a
//! missing final newline all survive. Only the tag after the last `:` of the value's final
//! literal changes; the registry/repository part stays, whether the value is a plain string
//! or a template such as `"${local.ecr_repo_url}:TAG"`. A digest pin,
//! `REPO:TAG@sha256:HEX`, is read with both parts; a rewrite sets the tag and either keeps
//! the form with a new digest, adds one, or writes the tag alone.
//!
//! ```
//! use tf_locals::{find_pin, rewrite_pin};
//! let tf = "locals {\n  image = \"123.dkr.ecr.eu-west-2.amazonaws.com/app:v1\" # pinned\n}\n";
//! let pin = find_pin(tf, "image").unwrap();
//! assert_eq!(pin.tag, "v1");
//! let new = rewrite_pin(tf, &pin, "v2", None).unwrap();
//! assert_eq!(new, tf.replace(":v1", ":v2"));
//! let digest = format!("sha256:{}", "ab".repeat(32));
//! let pinned = rewrite_pin(tf, &pin, "v2", Some(&digest)).unwrap();
//! assert_eq!(find_pin(&pinned, "image").unwrap().digest, Some(digest));
//! ```

use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use hcl_edit::Span;
use std::ops::Range;

pub mod image;
pub mod location;

pub use location::LineColumn;

/// An image pinned in a `locals` value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImagePin {
    /// The local's name.
    pub local: String,
    /// Where the local is defined.
    pub at: LineColumn,
    /// The value's text between its quotes, as written.
    pub value: String,
    /// Everything before the tag, as written (`123.dkr.ecr.../repo` or `${local.repo}`).
    pub image: String,
    /// The tag.
    pub tag: String,
    /// The digest after `@` (`sha256:HEX`), when the pin has one.
    pub digest: Option<String>,
    /// The tag's byte range in the file.
    #[serde(skip)]
    pub tag_span: Range<usize>,
    /// The reference's byte range: the tag, and `@DIGEST` when the pin has one. A rewrite
    /// replaces exactly these bytes.
    #[serde(skip)]
    pub reference_span: Range<usize>,
}

/// Why a pin could not be read or rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalsError {
    /// The file is not valid HCL.
    #[error("{at}: not valid HCL: {message}")]
    Syntax {
        /// Where.
        at: LineColumn,
        /// The parser's message.
        message: String,
    },
    /// No `locals` block defines the local.
    #[error("no `locals` block defines `{local}`")]
    NotFound {
        /// The local.
        local: String,
    },
    /// Several definitions: Terraform would reject the file, and which one to change is unclear.
    #[error("`{local}` is defined {} times, at {}", places.len(), places.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Duplicate {
        /// The local.
        local: String,
        /// Every definition.
        places: Vec<LineColumn>,
    },
    /// The value is not something this tool rewrites.
    #[error("{at}: `{local}` cannot be rewritten: {reason}")]
    Unsupported {
        /// The local.
        local: String,
        /// Where its value is.
        at: LineColumn,
        /// Why.
        reason: String,
    },
    /// The new tag is not a valid image tag.
    #[error("`{tag}` is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)")]
    InvalidTag {
        /// The tag.
        tag: String,
    },
    /// The new digest is not `sha256:` and 64 lowercase hex digits.
    #[error("`{digest}` is not an image digest (`sha256:` and 64 lowercase hex digits)")]
    InvalidDigest {
        /// The digest.
        digest: String,
    },
    /// The rewritten file did not check out (a bug guard: nothing is written).
    #[error("the rewritten file failed its check: {0}")]
    Verification(String),
}

/// Finds the one definition of `local` in the file's top-level `locals` blocks and reads
/// its image tag.
pub fn find_pin(text: &str, local: &str) -> Result<ImagePin, LocalsError> {
    let body = parse(text)?;
    let at = |offset: usize| LineColumn::of_offset(text, offset);
    let mut found = Vec::new();
    for block in body.blocks().filter(|b| b.has_ident("locals")) {
        for attr in block.body.attributes().filter(|a| a.key.as_str() == local) {
            found.push(attr);
        }
    }
    let attr = match found.as_slice() {
        [] => {
            return Err(LocalsError::NotFound {
                local: local.to_owned(),
            })
        }
        [one] => *one,
        many => {
            return Err(LocalsError::Duplicate {
                local: local.to_owned(),
                places: many
                    .iter()
                    .map(|a| at(a.span().map_or(0, |s| s.start)))
                    .collect(),
            })
        }
    };
    let def_at = at(attr.span().map_or(0, |s| s.start));
    let unsupported = |reason: &str| LocalsError::Unsupported {
        local: local.to_owned(),
        at: def_at,
        reason: reason.to_owned(),
    };
    let span = match &attr.value {
        Expression::String(s) => s.span(),
        Expression::StringTemplate(t) => t.span(),
        Expression::HeredocTemplate(_) => {
            return Err(unsupported(
                "the value is a heredoc; write it as a quoted string",
            ))
        }
        _ => return Err(unsupported("the value is not a quoted string")),
    }
    .ok_or_else(|| unsupported("the parser gave no position for the value"))?;
    let quoted = &text[span.clone()];
    if !(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"')) {
        return Err(unsupported("the value is not a single quoted string"));
    }
    let inner_start = span.start + 1;
    let value = &quoted[1..quoted.len() - 1];
    if value.contains('\\') {
        return Err(unsupported(
            "the value contains escape sequences; a byte-exact rewrite cannot be guaranteed",
        ));
    }
    // The tag is after the last `:` of the final literal: after any interpolation and after
    // the last `/` (a registry port such as `host:5000/` is not a tag separator).
    let literal_start = value.rfind('}').map_or(0, |i| i + 1);
    let literal = &value[literal_start..];
    if literal.contains("${") || literal.contains("%{") {
        return Err(unsupported("the tag part is an unfinished template"));
    }
    let slash = literal.rfind('/').map_or(0, |i| i + 1);
    // `NAME:TAG@sha256:HEX`: the digest is everything after the first `@` of the last path
    // segment.
    let (reference, digest) = match literal[slash..].find('@') {
        Some(i) => {
            let digest = &literal[slash + i + 1..];
            if !is_valid_digest(digest) {
                return Err(unsupported(&format!(
                    "the digest `{digest}` after `@` is not `sha256:` and 64 lowercase hex digits"
                )));
            }
            (&literal[slash..slash + i], Some(digest))
        }
        None => (&literal[slash..], None),
    };
    let Some(colon) = reference.rfind(':').map(|i| literal_start + slash + i) else {
        return Err(unsupported(if digest.is_some() {
            "the image is pinned by digest alone; write it as `REPOSITORY:TAG@sha256:...` so the tag can be moved"
        } else {
            "the value has no `:TAG` at its end"
        }));
    };
    let tag_end = literal_start + slash + reference.len();
    let tag = &value[colon + 1..tag_end];
    if tag.is_empty() {
        return Err(unsupported("the tag after `:` is empty"));
    }
    Ok(ImagePin {
        local: local.to_owned(),
        at: def_at,
        value: value.to_owned(),
        image: value[..colon].to_owned(),
        tag: tag.to_owned(),
        digest: digest.map(str::to_owned),
        tag_span: inner_start + colon + 1..inner_start + tag_end,
        reference_span: inner_start + colon + 1..inner_start + value.len(),
    })
}

/// Whether `digest` is an image digest as ECR gives them: `sha256:` and 64 lowercase hex
/// digits.
pub fn is_valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether `tag` is a valid image tag (Docker's and ECR's rule).
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The file with `pin`'s reference replaced by `new_tag`, followed by `@new_digest` when
/// one is given (a pin that had a digest and gets `None` loses it), every other byte
/// unchanged. The result is parsed again and checked to differ from the original only in
/// that value.
pub fn rewrite_pin(
    text: &str,
    pin: &ImagePin,
    new_tag: &str,
    new_digest: Option<&str>,
) -> Result<String, LocalsError> {
    if !is_valid_tag(new_tag) {
        return Err(LocalsError::InvalidTag {
            tag: new_tag.to_owned(),
        });
    }
    if let Some(digest) = new_digest.filter(|d| !is_valid_digest(d)) {
        return Err(LocalsError::InvalidDigest {
            digest: digest.to_owned(),
        });
    }
    let mut out = String::with_capacity(text.len() + new_tag.len() + 72);
    out.push_str(&text[..pin.reference_span.start]);
    out.push_str(new_tag);
    if let Some(digest) = new_digest {
        out.push('@');
        out.push_str(digest);
    }
    out.push_str(&text[pin.reference_span.end..]);

    let again = find_pin(&out, &pin.local).map_err(|e| LocalsError::Verification(e.to_string()))?;
    if again.tag != new_tag || again.image != pin.image || again.digest.as_deref() != new_digest {
        return Err(LocalsError::Verification(format!(
            "re-read `{}` as {} instead of {}",
            pin.local,
            again.value,
            reference(&pin.image, new_tag, new_digest)
        )));
    }
    let before = without_local(text, &pin.local)?;
    let after = without_local(&out, &pin.local)?;
    if before != after {
        return Err(LocalsError::Verification(
            "something other than the pinned value changed".into(),
        ));
    }
    Ok(out)
}

/// `IMAGE:TAG`, or `IMAGE:TAG@DIGEST`.
pub fn reference(image: &str, tag: &str, digest: Option<&str>) -> String {
    match digest {
        Some(d) => format!("{image}:{tag}@{d}"),
        None => format!("{image}:{tag}"),
    }
}

fn parse(text: &str) -> Result<Body, LocalsError> {
    hcl_edit::parser::parse_body(text).map_err(|e| LocalsError::Syntax {
        at: LineColumn {
            line: e.location().line(),
            column: e.location().column(),
        },
        message: e.message().to_owned(),
    })
}

/// The file's structure with the local removed, for comparing two versions.
fn without_local(text: &str, local: &str) -> Result<String, LocalsError> {
    let mut body = parse(text)?;
    for block in body.blocks_mut().filter(|b| b.has_ident("locals")) {
        block.body.remove_attribute(local);
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, local: &str, tag: &str, image: &str) {
        let pin = find_pin(text, local).unwrap();
        assert_eq!((pin.tag.as_str(), pin.image.as_str()), (tag, image));
        assert_eq!(&text[pin.tag_span.clone()], tag);
        let out = rewrite_pin(text, &pin, "new-tag_1.0", None).unwrap();
        let expected = format!(
            "{}new-tag_1.0{}",
            &text[..pin.tag_span.start],
            &text[pin.tag_span.end..]
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn plain_template_and_port() {
        check(
            "locals {\n  a = \"r.example/app:v1\"\n}\n",
            "a",
            "v1",
            "r.example/app",
        );
        check(
            "locals {\n  a = \"${local.repo}:v1\"\n}\n",
            "a",
            "v1",
            "${local.repo}",
        );
        check(
            "locals {\n  a = \"host:5000/app:v1\"\n}",
            "a",
            "v1",
            "host:5000/app",
        );
        check(
            "locals {\r\n  a   = \"r/app:v1\" # c\r\n  b = 1\r\n}\r\n",
            "a",
            "v1",
            "r/app",
        );
    }

    #[test]
    fn refusals_say_why() {
        let refuse = |text: &str, reason: &str| {
            let err = find_pin(text, "a").unwrap_err();
            assert!(err.to_string().contains(reason), "{err}");
        };
        refuse("locals {\n  a = <<EOT\nr/app:v1\nEOT\n}\n", "heredoc");
        refuse("locals {\n  a = 3\n}\n", "not a quoted string");
        refuse("locals {\n  a = \"r/app:v1\\n\"\n}\n", "escape sequences");
        refuse("locals {\n  a = \"r/app\"\n}\n", "no `:TAG`");
        refuse("locals {\n  a = \"host:5000/app\"\n}\n", "no `:TAG`");
        refuse(
            &format!("locals {{\n  a = \"r/app@sha256:{}\"\n}}\n", "a".repeat(64)),
            "pinned by digest alone",
        );
        refuse(
            "locals {\n  a = \"r/app:v1@sha256:abc\"\n}\n",
            "is not `sha256:` and 64",
        );
        refuse(
            &format!(
                "locals {{\n  a = \"r/app:v1@sha256:{}\"\n}}\n",
                "A".repeat(64)
            ),
            "is not `sha256:` and 64",
        );
        refuse("locals {\n  a = \"r/app:${var.tag}\"\n}\n", "no `:TAG`");
        refuse(
            "locals {\n  b = \"x:y\"\n}\n",
            "no `locals` block defines `a`",
        );
        refuse(
            "locals {\n  a = \"r:1\"\n}\nlocals {\n  a = \"r:2\"\n}\n",
            "defined 2 times, at 2:3, 5:3",
        );
        refuse("locals {\n  a = \n", "not valid HCL");
    }

    #[test]
    fn digest_pins_keep_gain_or_lose_their_digest() {
        let (d1, d2) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let text = format!("locals {{\r\n  a = \"host:5000/app:v1@{d1}\" # c\r\n}}\r\n");
        let pin = find_pin(&text, "a").unwrap();
        assert_eq!(
            (pin.image.as_str(), pin.tag.as_str()),
            ("host:5000/app", "v1")
        );
        assert_eq!(pin.digest.as_deref(), Some(d1.as_str()));
        assert_eq!(&text[pin.tag_span.clone()], "v1");
        assert_eq!(&text[pin.reference_span.clone()], format!("v1@{d1}"));
        let moved = rewrite_pin(&text, &pin, "v2", Some(&d2)).unwrap();
        assert_eq!(
            moved,
            text.replace(&format!("v1@{d1}"), &format!("v2@{d2}"))
        );
        let bare = rewrite_pin(&text, &pin, "v2", None).unwrap();
        assert_eq!(bare, text.replace(&format!("v1@{d1}"), "v2"));
        let plain = find_pin(&bare, "a").unwrap();
        assert_eq!(plain.digest, None);
        assert_eq!(rewrite_pin(&bare, &plain, "v1", Some(&d1)).unwrap(), text);
        assert!(matches!(
            rewrite_pin(&text, &pin, "v2", Some("sha256:xyz")),
            Err(LocalsError::InvalidDigest { .. })
        ));
        let template = format!("locals {{\n  a = \"${{local.repo}}:v1@{d1}\"\n}}\n");
        let pin = find_pin(&template, "a").unwrap();
        assert_eq!(
            (pin.image.as_str(), pin.tag.as_str()),
            ("${local.repo}", "v1")
        );
    }

    #[test]
    fn invalid_new_tags_are_refused() {
        let text = "locals {\n  a = \"r/app:v1\"\n}\n";
        let pin = find_pin(text, "a").unwrap();
        for bad in ["", "-x", "a b", "a\"", "x:y", &"a".repeat(129)] {
            assert!(
                matches!(
                    rewrite_pin(text, &pin, bad, None),
                    Err(LocalsError::InvalidTag { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
