//! One HTTP(S) check request on the toolkit's one HTTP pipeline
//! ([`infra_notify::http::exchange`]: DNS, TCP, TLS, HTTP/1.1, the body, each phase timed),
//! its timings and failures in the endpoint report's terms; following redirects; the
//! request headers an endpoint declares.

use bytes::Bytes;
use http_body_util::Full;
use infra_notify::http::{exchange, Phase, PhaseError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The largest body read; more is cut (a health check has no reason to be larger).
pub const MAX_BODY: usize = 1024 * 1024;

/// How long each phase took, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Name resolution.
    pub dns_ms: f64,
    /// TCP connect.
    pub connect_ms: f64,
    /// TLS handshake (0 for plain HTTP).
    pub tls_ms: f64,
    /// From sending the request to the response head.
    pub ttfb_ms: f64,
    /// The whole request, body included.
    pub total_ms: f64,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// Every response header, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Bytes,
    /// Phase timings.
    pub timings: Timings,
    /// The server certificate's `notAfter` (seconds since the epoch), for HTTPS.
    pub cert_not_after: Option<i64>,
}

/// Why no answer came.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The host name did not resolve.
    #[error("DNS lookup of {host} failed: {source}")]
    Dns {
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The host name resolved to no address.
    #[error("DNS lookup of {host} failed: no address")]
    NoAddress {
        /// The host.
        host: String,
    },
    /// The TCP connection failed.
    #[error("connection to {addr} failed: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
        /// Refused or reset: worth retrying.
        transient: bool,
    },
    /// The TLS handshake failed (certificate, host name, protocol).
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// The host.
        host: String,
        /// Why (rustls' error, or the host name that is not a valid server name).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A phase did not finish in time.
    #[error("timed out during {phase} after {after_ms:.0} ms")]
    Timeout {
        /// `dns`, `connect`, `tls`, `response` or `body`.
        phase: &'static str,
        /// Time spent before giving up.
        after_ms: f64,
    },
    /// The HTTP exchange failed (reset mid-response, bad framing).
    #[error("HTTP exchange failed: {0}")]
    Protocol(String),
    /// A redirect could not be followed (no Location, a loop, too many).
    #[error("{0}")]
    Redirect(String),
}

impl FetchError {
    /// Whether another attempt may succeed: refused/reset connections, timeouts and broken
    /// exchanges are; DNS failures and TLS errors are not.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Connect { transient, .. } => *transient,
            FetchError::Timeout { .. } | FetchError::Protocol(_) => true,
            FetchError::Dns { .. }
            | FetchError::NoAddress { .. }
            | FetchError::Tls { .. }
            | FetchError::Redirect(_) => false,
        }
    }
}

pub use infra_notify::http::tls_config;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where to connect instead of the URL's host (the shared pipeline's).
pub use infra_notify::http::Route;

/// Extra request headers of one endpoint; their values are marked sensitive.
pub type RequestHeaders = Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>;

/// The request headers of `endpoint`: `Authorization: Basic …` from credentials in its URL
/// (as curl does), then each `request_header_env` header with the value of its environment
/// variable (`getenv`), which replaces a header of the same name. An unset, empty or invalid
/// variable is an error naming the endpoint, the header and the variable, never the value.
pub fn request_headers(
    endpoint: &infra_core::environment::Endpoint,
    getenv: impl Fn(&str) -> Option<String>,
) -> Result<RequestHeaders, String> {
    use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
    let mut headers = RequestHeaders::new();
    let url = &endpoint.url;
    if !url.username().is_empty() || url.password().is_some() {
        let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
        let mut pair = decode(url.username());
        pair.push(b':');
        pair.extend(decode(url.password().unwrap_or_default()));
        let mut value =
            HeaderValue::try_from(format!("Basic {}", aws_smithy_types::base64::encode(pair)))
                .map_err(|_| {
                    format!(
                        "endpoint `{}`: the credentials in its URL do not make a valid header",
                        endpoint.name
                    )
                })?;
        value.set_sensitive(true);
        headers.push((AUTHORIZATION, value));
    }
    for (header, var) in &endpoint.request_header_env {
        let name = HeaderName::try_from(header.as_str()).map_err(|_| {
            format!(
                "endpoint `{}`: `{header}` is not an HTTP header name",
                endpoint.name
            )
        })?;
        let text = getenv(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            format!(
                "endpoint `{}`: request header `{header}` takes its value from the environment variable `{var}`, which is not set (or empty)",
                endpoint.name
            )
        })?;
        let mut value = HeaderValue::try_from(text).map_err(|_| {
            format!(
                "endpoint `{}`: the value of `{var}` (request header `{header}`) is not a valid HTTP header value (control characters or line breaks)",
                endpoint.name
            )
        })?;
        value.set_sensitive(true);
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
    }
    Ok(headers)
}

/// GETs `url` through `route` with `extra` headers on the shared pipeline
/// ([`infra_notify::http::exchange`]), all phases together bounded by `deadline`; every
/// phase timed, every failure kept with its host or address and cause.
async fn fetch(
    url: &url::Url,
    route: &Route,
    extra: &RequestHeaders,
    tls: &Arc<rustls::ClientConfig>,
    deadline: Instant,
) -> Result<Response, FetchError> {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let (host_header, path) = infra_notify::http::target(url, host);
    let mut request = hyper::Request::get(path)
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::USER_AGENT,
            concat!("verify-endpoints/", env!("CARGO_PKG_VERSION")),
        )
        .header(
            hyper::header::ACCEPT,
            "application/json, text/plain;q=0.9, */*;q=0.1",
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| FetchError::Protocol(e.to_string()))?;
    for (name, value) in extra {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let answer = exchange(url, route, request, tls, deadline, MAX_BODY)
        .await
        .map_err(fetch_error)?;
    let content_type = answer
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone());
    let cert_not_after = answer
        .certificate
        .as_ref()
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp());
    let times = answer.times;
    Ok(Response {
        status: answer.status,
        content_type,
        headers: answer.headers,
        body: answer.body,
        timings: Timings {
            dns_ms: ms(times.dns),
            connect_ms: ms(times.connect),
            tls_ms: ms(times.tls),
            ttfb_ms: ms(times.ttfb),
            total_ms: ms(times.total),
        },
        cert_not_after,
    })
}

/// The pipeline's failure as an endpoint check reports it: with its host or address and
/// cause (an endpoint is not a secret, unlike a webhook).
fn fetch_error(e: PhaseError) -> FetchError {
    match e {
        PhaseError::Url(what) => FetchError::Protocol(what.to_owned()),
        PhaseError::Dns { host, source } => FetchError::Dns { host, source },
        PhaseError::NoAddress { host } => FetchError::NoAddress { host },
        PhaseError::Connect { addr, source } => FetchError::Connect {
            addr: addr.to_string(),
            transient: matches!(
                source.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            ),
            source,
        },
        PhaseError::TlsName { host, source } => FetchError::Tls { host, source },
        PhaseError::Tls { host, source } => FetchError::Tls { host, source },
        PhaseError::Timeout { phase, after } => FetchError::Timeout {
            phase: match phase {
                Phase::Dns => "dns",
                Phase::Connect => "connect",
                Phase::Tls => "tls",
                Phase::Handshake | Phase::Response => "response",
                Phase::Body => "body",
            },
            after_ms: ms(after),
        },
        PhaseError::Protocol(what) => FetchError::Protocol(what),
    }
}

/// The most redirects followed for one check.
pub const MAX_REDIRECTS: usize = 5;

/// GETs `url` with `headers` and, when `follow` is set, follows up to [`MAX_REDIRECTS`]
/// redirects (the route applies to the first request only; the headers go only to the
/// same origin, so credentials never follow a redirect to another host); the URLs followed
/// are pushed to `followed`.
pub async fn get_following(
    url: &url::Url,
    route: &Route,
    headers: &RequestHeaders,
    follow: bool,
    tls: &Arc<rustls::ClientConfig>,
    deadline: Instant,
    followed: &mut Vec<String>,
) -> Result<Response, FetchError> {
    let mut response = fetch(url, route, headers, tls, deadline).await?;
    let none = RequestHeaders::new();
    let mut current = url.clone();
    let plain = Route {
        connect_host: None,
        resolve: route.resolve.clone(),
    };
    while follow && matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        if followed.len() >= MAX_REDIRECTS {
            return Err(FetchError::Redirect(format!(
                "more than {MAX_REDIRECTS} redirects (last to {current})"
            )));
        }
        let location = response
            .headers
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                FetchError::Redirect(format!(
                    "status {} without a Location header",
                    response.status
                ))
            })?;
        let next = current.join(&location).map_err(|e| {
            FetchError::Redirect(format!("redirect to an invalid URL `{location}`: {e}"))
        })?;
        if current.scheme() == "https" && next.scheme() != "https" {
            return Err(FetchError::Redirect(format!(
                "refusing a redirect from HTTPS to {next}"
            )));
        }
        followed.push(crate::redact::url(&next));
        let same_origin = next.origin() == url.origin();
        let carried = if same_origin { headers } else { &none };
        response = fetch(&next, &plain, carried, tls, deadline).await?;
        current = next;
    }
    Ok(response)
}
