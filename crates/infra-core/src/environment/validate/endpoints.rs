//! `endpoint` blocks: what `verify-endpoints` checks.

use super::{KeyPath, Validator};
use crate::environment::raw::RawEndpoint;
use crate::environment::{endpoint_url, Endpoint};
use indexmap::IndexMap;
use regex::Regex;
use std::sync::LazyLock;
use tf_locals::image::regex_error;

/// A CloudFront distribution ID.
static DISTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z0-9]{1,64}$").expect("static regex"));

/// An HTTP header name (RFC 9110 token).
fn header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An environment variable's name: letters, digits (not first) and `_`.
fn variable_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().enumerate().all(|(i, c)| {
            c == '_'
                || c.is_ascii_uppercase()
                || c.is_ascii_lowercase()
                || (i > 0 && c.is_ascii_digit())
        })
}

impl Validator<'_, '_> {
    pub(super) fn endpoints(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawEndpoint>,
    ) -> Vec<Endpoint> {
        let mut endpoints = Vec::new();
        for (name, raw) in raw {
            let p = env.key("endpoint").key(&name);
            let url = match endpoint_url(&raw.url) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.problem(&p.key("url"), format!("`url` of endpoint `{name}` {e}"));
                    None
                }
            };
            let expect_status = match raw.expect_status {
                None => 200,
                Some(s) if (100..=599).contains(&s) => s as u16,
                Some(s) => {
                    self.problem(
                        &p.key("expect_status"),
                        format!(
                            "`expect_status` must be an HTTP status between 100 and 599, found {s}"
                        ),
                    );
                    200
                }
            };
            if let Some(dist) = &raw.cloudfront_distribution {
                if !DISTRIBUTION.is_match(dist) {
                    self.problem(
                        &p.key("cloudfront_distribution"),
                        format!("`cloudfront_distribution` \"{dist}\" is not a CloudFront distribution ID (capital letters and digits)"),
                    );
                }
            }
            if let Some(pattern) = &raw.expect_regex {
                if let Err(e) = Regex::new(pattern) {
                    let detail = regex_error(&e);
                    self.problem(
                        &p.key("expect_regex"),
                        format!("`expect_regex` of endpoint `{name}` is not a valid regular expression: {detail}"),
                    );
                }
            }
            for (header, var) in &raw.request_header_env {
                let key = p.key("request_header_env").key(header);
                if !header_name(header) {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: `{header}` is not an HTTP header name"),
                    );
                } else if header.eq_ignore_ascii_case("host") {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: the `Host` header comes from the URL"),
                    );
                }
                if !variable_name(var) {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: `{header}` must name an environment variable (letters, digits, `_`), found \"{var}\"; the value itself never goes in this file"),
                    );
                }
            }
            let mut budget = |key: &str, value: Option<i64>| match value {
                None => None,
                Some(ms) if ms > 0 => Some(ms as u64),
                Some(ms) => {
                    self.problem(
                        &p.key(key),
                        format!("`{key}` must be a positive number of milliseconds, found {ms}"),
                    );
                    None
                }
            };
            let latency_warn_ms = budget("latency_warn_ms", raw.latency_warn_ms);
            let latency_fail_ms = budget("latency_fail_ms", raw.latency_fail_ms);
            if let (Some(warn), Some(fail)) = (latency_warn_ms, latency_fail_ms) {
                if warn > fail {
                    self.problem(
                        &p.key("latency_warn_ms"),
                        format!(
                            "`latency_warn_ms` ({warn}) is greater than `latency_fail_ms` ({fail})"
                        ),
                    );
                }
            }
            if let Some(url) = url {
                endpoints.push(Endpoint {
                    name,
                    url,
                    cloudfront_distribution: raw.cloudfront_distribution,
                    expect_status,
                    expect_json: raw.expect_json,
                    expect_body: raw.expect_body,
                    expect_regex: raw.expect_regex,
                    expect_content_type: raw.expect_content_type,
                    expect_headers: raw.expect_headers,
                    request_header_env: raw.request_header_env,
                    latency_warn_ms,
                    latency_fail_ms,
                    follow_redirects: raw.follow_redirects.unwrap_or(false),
                });
            }
        }
        endpoints
    }
}
