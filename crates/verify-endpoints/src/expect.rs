//! What a healthy answer is.

use crate::http::Response;
use infra_core::environment::Endpoint;

/// The verdict on one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy.
    Pass,
    /// Not healthy.
    Fail {
        /// What was expected.
        expected: String,
        /// What came.
        actual: String,
        /// Whether another attempt may succeed (502, 503, 504).
        transient: bool,
    },
}

/// Whether `actual` contains `expected`: objects by key (recursively), everything else equal.
pub fn json_contains(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    match (actual, expected) {
        (serde_json::Value::Object(a), serde_json::Value::Object(e)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| json_contains(av, ev))),
        (a, e) => a == e,
    }
}

fn looks_like_html(response: &Response) -> bool {
    let ct = response
        .content_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let head: String = String::from_utf8_lossy(&response.body[..response.body.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    ct.starts_with("text/html") || head.starts_with("<!doctype html") || head.starts_with("<html")
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', " ");
    if body.len() > 200 {
        format!("{text}...")
    } else {
        text
    }
}

/// Judges `response` against `endpoint`'s expectations: the status first, then the body.
pub fn evaluate(endpoint: &Endpoint, response: &Response) -> Verdict {
    if response.status != endpoint.expect_status {
        return Verdict::Fail {
            expected: format!("status {}", endpoint.expect_status),
            actual: format!("status {}: {}", response.status, snippet(&response.body)),
            transient: matches!(response.status, 502..=504),
        };
    }
    if let Some(prefix) = &endpoint.expect_content_type {
        let actual = response.content_type.as_deref().unwrap_or("");
        if !actual
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
        {
            return Verdict::Fail {
                expected: format!("Content-Type {prefix}"),
                actual: format!("Content-Type {actual:?}"),
                transient: false,
            };
        }
    }
    for (name, value) in &endpoint.expect_headers {
        let actual = response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        if actual != Some(value.as_str()) {
            return Verdict::Fail {
                expected: format!("header {name}: {value}"),
                actual: match actual {
                    Some(v) => format!("header {name}: {v}"),
                    None => format!("no {name} header"),
                },
                transient: false,
            };
        }
    }
    if let Some(expected) = &endpoint.expect_json {
        if looks_like_html(response) {
            return Verdict::Fail {
                expected: format!("JSON containing {expected}"),
                actual: format!(
                    "an HTML page (a single-page app's fallback?): {}",
                    snippet(&response.body)
                ),
                transient: false,
            };
        }
        let actual: serde_json::Value = match serde_json::from_slice(&response.body) {
            Ok(v) => v,
            Err(e) => {
                return Verdict::Fail {
                    expected: format!("JSON containing {expected}"),
                    actual: format!("a body that is not JSON ({e}): {}", snippet(&response.body)),
                    transient: false,
                }
            }
        };
        if !json_contains(&actual, expected) {
            return Verdict::Fail {
                expected: format!("JSON containing {expected}"),
                actual: actual.to_string(),
                transient: false,
            };
        }
    }
    if let Some(expected) = &endpoint.expect_body {
        let actual = String::from_utf8_lossy(&response.body);
        if actual.trim() != expected.trim() {
            return Verdict::Fail {
                expected: format!("body {expected:?}"),
                actual: format!("body {:?}", snippet(&response.body)),
                transient: false,
            };
        }
    }
    if let Some(pattern) = &endpoint.expect_regex {
        // Validated when the environment file was loaded.
        let matched = regex::Regex::new(pattern)
            .is_ok_and(|re| re.is_match(&String::from_utf8_lossy(&response.body)));
        if !matched {
            return Verdict::Fail {
                expected: format!("a body matching /{pattern}/"),
                actual: format!("body {:?}", snippet(&response.body)),
                transient: false,
            };
        }
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_subset() {
        assert!(json_contains(
            &json!({"status": "ok", "details": {"db": "up", "n": 1}}),
            &json!({"details": {"db": "up"}})
        ));
        assert!(!json_contains(
            &json!({"status": "degraded"}),
            &json!({"status": "ok"})
        ));
        assert!(!json_contains(&json!(["ok"]), &json!({"status": "ok"})));
        assert!(json_contains(&json!(true), &json!(true)));
    }
}
