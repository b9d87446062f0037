//! A small HTTP/1.1 client for the tools' own calls out (notifications; the GitHub API):
//! one request per connection, TLS with the system's roots (rustls with aws-lc-rs), every
//! step bounded by one instant.
//!
//! A URL may be a secret (a Slack webhook's path is its credential), so no error this
//! module returns contains the URL, its host or anything the server sent back: callers
//! name the request by what it is for ("the Slack webhook"), never by where it goes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

pub use hyper::Method;
pub use url::Url;

/// TLS settings, shared by every request of a run.
pub type Tls = Arc<rustls::ClientConfig>;

/// The most of a response body read (an API answer, never a download).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One request. Its `Debug` shows the method, the URL's scheme and host, and the header
/// names only: a webhook URL's path and a bearer token are secrets.
#[derive(Clone)]
pub struct Request {
    /// `GET`, `POST`, `PATCH`…
    pub method: hyper::Method,
    /// Where to (`http` or `https`).
    pub url: url::Url,
    /// Extra headers (`Host`, `Content-Length` and `User-Agent` are set here).
    pub headers: Vec<(String, String)>,
    /// The body (`application/json` unless a header says otherwise).
    pub body: Option<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field(
                "url",
                &format_args!(
                    "{}://{}/[redacted]",
                    self.url.scheme(),
                    self.url.host_str().unwrap_or("")
                ),
            )
            .field("headers", &format_args!("{names:?} [values redacted]"))
            .field("body", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// A response: its status, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body (at most 4 MiB).
    pub body: Bytes,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no response. Never holds the URL or the server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The instant passed first.
    #[error("no answer in time ({0})")]
    Timeout(&'static str),
    /// The URL cannot be requested (scheme, host).
    #[error("{0}")]
    Url(&'static str),
    /// DNS, or the TCP connection.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The TLS handshake (certificate, name).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The HTTP exchange broke.
    #[error("the HTTP exchange failed: {0}")]
    Protocol(String),
}

impl HttpError {
    /// Whether another attempt may succeed (a timeout, a refused or broken connection).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HttpError::Timeout(_) | HttpError::Connect(_) | HttpError::Protocol(_)
        )
    }
}

/// What failed in a TLS handshake, in our words: the server chose the certificate, so its
/// names and any text it carries are not repeated (they would reach reports and Slack).
fn tls_reason(e: &std::io::Error) -> String {
    use rustls::{CertificateError, Error};
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return format!("handshake failed ({})", e.kind());
    };
    match inner {
        Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the certificate is not valid for this host name"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet"
            }
            CertificateError::UnknownIssuer => "the certificate's issuer is not trusted",
            CertificateError::Revoked => "the certificate is revoked",
            _ => "the certificate is invalid",
        }
        .to_owned(),
        Error::AlertReceived(_) => "the server refused the handshake".to_owned(),
        Error::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        _ => "handshake failed".to_owned(),
    }
}

/// TLS settings: the system's roots plus any extra CA certificates (PEM).
pub fn tls_config(extra_ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if !extra_ca_pem.is_empty() {
        use rustls_pki_types::pem::PemObject;
        let mut added = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(extra_ca_pem) {
            let cert = cert.map_err(|e| format!("invalid PEM certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("unusable CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("no certificate found in the CA file".into());
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The `Host` header (with the port when the URL names one) and the request target (path
/// and query) for `url` on `host`.
pub fn target(url: &url::Url, host: &str) -> (String, String) {
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    (host_header, path)
}

/// A response's headers as (lower-case name, value) pairs, values read lossily.
pub fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Sends `request` and reads the whole response, all before `until`.
pub async fn send(
    request: &Request,
    tls: &Arc<rustls::ClientConfig>,
    until: Instant,
) -> Result<Response, HttpError> {
    let url = &request.url;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(HttpError::Url("the URL is neither http nor https")),
    };
    let host = url
        .host_str()
        .ok_or(HttpError::Url("the URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or(HttpError::Url("the URL has no port"))?;
    let tcp = timeout_at(until, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| HttpError::Timeout("connecting"))?
        .map_err(|e| HttpError::Connect(e.kind().to_string()))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if https {
        let name = ServerName::try_from(host.clone())
            .map_err(|_| HttpError::Url("the URL's host is not a valid TLS name"))?;
        let stream = timeout_at(
            until,
            tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp),
        )
        .await
        .map_err(|_| HttpError::Timeout("TLS handshake"))?
        .map_err(|e| HttpError::Tls(tls_reason(&e)))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = timeout_at(
        until,
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io)),
    )
    .await
    .map_err(|_| HttpError::Timeout("HTTP handshake"))?
    .map_err(|e| HttpError::Protocol(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let (host_header, path) = target(url, &host);
    let body = request.body.clone().unwrap_or_default();
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(path)
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::USER_AGENT,
            concat!("infra-toolkit/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONTENT_LENGTH, body.len());
    let mut typed = false;
    for (name, value) in &request.headers {
        typed |= name.eq_ignore_ascii_case("content-type");
        builder = builder.header(name.as_str(), value.as_str());
    }
    if request.body.is_some() && !typed {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let http_request = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| HttpError::Url("the request cannot be built from these headers"))?;
    let response = timeout_at(until, sender.send_request(http_request))
        .await
        .map_err(|_| HttpError::Timeout("waiting for the response"))?
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let body = timeout_at(
        until,
        Limited::new(response.into_body(), MAX_BODY).collect(),
    )
    .await
    .map_err(|_| HttpError::Timeout("reading the body"))?
    .map_err(|e| HttpError::Protocol(format!("reading the body: {e}")))?
    .to_bytes();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The answer after retries: the last response (perhaps still a 429 or 5xx), or why there
/// was none; how many requests were made; and why the retries stopped, if they did.
#[derive(Debug)]
pub struct Retried {
    /// The last response, or why there was none.
    pub result: Result<Response, HttpError>,
    /// Requests made.
    pub attempts: u32,
    /// Why no further attempt was made after a retryable answer.
    pub gave_up: Option<&'static str>,
}

/// The most one request may take, connection to the whole body: a server that hangs
/// costs one attempt this long, never the caller's whole deadline.
pub const ATTEMPT_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest wait between two attempts (a longer `Retry-After` ends the retries).
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends `request`, again after a 429, a 5xx, a rate-limit 403 ([`rate_limited`]) or a
/// broken connection (honouring `Retry-After` in seconds or `x-ratelimit-reset`, else
/// waiting 1, 2, 4… s), at most `max_attempts` times, each
/// within [`ATTEMPT_TIME`], and never past `until`: [`infra_core::retry::until`]'s tries. A
/// request that timed out is not sent again (it may have arrived).
pub async fn send_retrying(
    request: &Request,
    tls: &Arc<rustls::ClientConfig>,
    until: Instant,
    max_attempts: u32,
) -> Retried {
    use infra_core::retry::{Backoff, Deadline, Stopped, Try};
    let backoff = Backoff::doubling(std::time::Duration::from_secs(1), MAX_WAIT);
    let tried = infra_core::retry::until(
        Deadline::at(until),
        backoff,
        Some(max_attempts),
        |_, _, _| {},
        |n| async move {
            let result = send(request, tls, until.min(Instant::now() + ATTEMPT_TIME)).await;
            let retryable = match &result {
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    Some(retry_after(r.header("retry-after")))
                }
                Ok(r) if rate_limited(r) => Some(
                    retry_after(r.header("retry-after"))
                        .or_else(|| until_reset(r.header("x-ratelimit-reset"))),
                ),
                Err(e) if e.is_transient() && !matches!(e, HttpError::Timeout(_)) => Some(None),
                _ => None,
            };
            match retryable {
                None => Try::Done((result, n)),
                Some(Some(wait)) if wait > MAX_WAIT => Try::Fail((result, n)),
                Some(Some(wait)) => Try::AgainIn((result, n), wait),
                Some(None) => Try::Again((result, n)),
            }
        },
    )
    .await;
    let ((result, attempts), gave_up) = match tried {
        Ok(done) => (done, None),
        Err(Stopped::Failed(last)) => (last, Some("the server asked to wait over a minute")),
        Err(Stopped::Exhausted { last, .. }) => (
            last,
            Some("no retry left before the deadline or the attempt cap"),
        ),
    };
    Retried {
        result,
        attempts,
        gave_up,
    }
}

/// `Retry-After` in seconds (an HTTP date is not used: the backoff applies).
/// Whether `url` may stand as it is in a Markdown or Slack link: `https://` and nothing
/// that could end the link or start markup (whitespace, control characters, `<>|()[]`,
/// quotes, backquote, backslash). For URLs that come from outside (a CI variable).
pub fn plain_https_url(url: &str) -> bool {
    url.starts_with("https://")
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>|()[]`\\\"'".contains(c))
}

/// The URL in variable `var`, if it may carry a secret (a webhook's path, a token sent to
/// it): `https://`, or `http://` to this machine only (127.0.0.0/8, `::1`, `localhost`: a
/// local relay, and the tests' stand-ins). The error names the variable, never the URL.
pub fn secret_url(var: &str, text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|_| format!("{var} does not hold a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(format!(
            "{var} must hold an https:// URL: the URL or what is sent to it is a secret and would cross the network in clear text (http:// is accepted only to 127.0.0.1 or localhost)"
        )),
    }
}

/// A 403 that means "slow down", not "not allowed": GitHub's primary and secondary rate
/// limits answer 403 with `x-ratelimit-remaining: 0` or a `Retry-After`.
pub fn rate_limited(response: &Response) -> bool {
    response.status == 403
        && (response.header("retry-after").is_some()
            || response.header("x-ratelimit-remaining").map(str::trim) == Some("0"))
}

/// The wait until `x-ratelimit-reset` (UTC epoch seconds), at least a second.
fn until_reset(value: Option<&str>) -> Option<std::time::Duration> {
    let reset = value?.trim().parse::<u64>().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(std::time::Duration::from_secs(
        reset.saturating_sub(now).max(1),
    ))
}

fn retry_after(value: Option<&str>) -> Option<std::time::Duration> {
    value?
        .trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake failure is said in fixed words: nothing the server's certificate carries
    /// (names, text) is repeated.
    #[test]
    fn tls_failures_are_said_in_our_words() {
        use rustls::{CertificateError, Error};
        let io = |e: Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert_eq!(
            tls_reason(&io(Error::InvalidCertificate(
                CertificateError::NotValidForName
            ))),
            "the certificate is not valid for this host name"
        );
        assert_eq!(
            tls_reason(&io(Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))),
            "the certificate's issuer is not trusted"
        );
        let planted = Error::General("<!channel> https://evil.example".into());
        assert_eq!(tls_reason(&io(planted)), "handshake failed");
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "<!channel>");
        assert!(!tls_reason(&plain).contains("channel"));
    }

    #[test]
    fn retry_after_is_seconds() {
        use std::time::Duration;
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        let far = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        let wait = until_reset(Some(&far.to_string())).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(until_reset(Some("0")), Some(Duration::from_secs(1)));
        let response = |headers: &[(&str, &str)]| Response {
            status: 403,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Bytes::new(),
        };
        assert!(rate_limited(&response(&[("x-ratelimit-remaining", "0")])));
        assert!(rate_limited(&response(&[("retry-after", "1")])));
        assert!(!rate_limited(&response(&[(
            "x-ratelimit-remaining",
            "4999"
        )])));
    }

    #[test]
    fn a_request_never_shows_its_secrets_in_debug() {
        let request = Request {
            method: hyper::Method::POST,
            url: url::Url::parse("https://hooks.slack.com/services/T0/B0/secretpath?k=v").unwrap(),
            headers: vec![("Authorization".into(), "Bearer ghp_secrettoken".into())],
            body: Some(b"{}".to_vec()),
        };
        let shown = format!("{request:?}");
        assert!(
            shown.contains("hooks.slack.com") && shown.contains("Authorization"),
            "{shown}"
        );
        for secret in ["secretpath", "k=v", "ghp_secrettoken", "Bearer"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
