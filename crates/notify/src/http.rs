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
use std::time::Duration;
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

/// Where to connect instead of the URL's host: route pinning and `--resolve` overrides
/// (verify-endpoints). TLS SNI and the `Host` header stay the URL's host either way.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Resolve this name instead of the URL's host (a CloudFront distribution's domain).
    pub connect_host: Option<String>,
    /// `host:port` → address overrides, like curl's `--resolve`.
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
}

/// A phase of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// The TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// The HTTP/1.1 handshake on the connection.
    Handshake,
    /// Sending the request and waiting for the response head.
    Response,
    /// Reading the body.
    Body,
}

/// How long each phase of an exchange took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Name resolution.
    pub dns: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// TLS handshake (zero for plain HTTP).
    pub tls: Duration,
    /// From sending the request to the response head.
    pub ttfb: Duration,
    /// The whole exchange, body included.
    pub total: Duration,
}

/// A response with everything the pipeline saw on the way.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body (at most the `max_body` asked for).
    pub body: Bytes,
    /// How long each phase took.
    pub times: PhaseTimes,
    /// The server's leaf certificate, for HTTPS.
    pub certificate: Option<rustls_pki_types::CertificateDer<'static>>,
}

/// Why one exchange got no response, in full: the host or address, the underlying error.
/// Callers decide what of it to show ([`send`] keeps none of the names; the endpoint
/// checks keep all).
#[derive(Debug, Clone)]
pub enum PhaseError {
    /// The URL cannot be requested (scheme, host, port, headers).
    Url(&'static str),
    /// The host name did not resolve.
    Dns {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        source: Arc<std::io::Error>,
    },
    /// The host name resolved to no address.
    NoAddress {
        /// The host.
        host: String,
    },
    /// The TCP connection failed (the last address tried).
    Connect {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// The host is not a valid TLS server name.
    TlsName {
        /// The host.
        host: String,
        /// Why.
        source: Arc<rustls_pki_types::InvalidDnsNameError>,
    },
    /// The TLS handshake failed (certificate, host name, protocol).
    Tls {
        /// The host.
        host: String,
        /// Why (rustls' error inside).
        source: Arc<std::io::Error>,
    },
    /// A phase did not finish in time.
    Timeout {
        /// The phase.
        phase: Phase,
        /// Time spent before giving up.
        after: Duration,
    },
    /// The HTTP exchange failed (reset mid-response, bad framing, a body over the limit).
    Protocol(String),
}

/// One request on its own connection, phase by phase (DNS, TCP to each address in turn,
/// TLS for `https`, HTTP/1.1, the body up to `max_body`), each timed, all before `until`.
/// `request` carries its method, path, headers and body; the URL says where it goes and
/// `route` where to connect instead.
pub async fn exchange(
    url: &url::Url,
    route: &Route,
    request: hyper::Request<Full<Bytes>>,
    tls: &Tls,
    until: Instant,
    max_body: usize,
) -> Result<Answer, PhaseError> {
    let start = Instant::now();
    let timed_out = |phase| {
        move |_| PhaseError::Timeout {
            phase,
            after: start.elapsed(),
        }
    };
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(PhaseError::Url("the URL is neither http nor https")),
    };
    let host = url
        .host_str()
        .ok_or(PhaseError::Url("the URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or(PhaseError::Url("the URL has no port"))?;

    // DNS: the route's host or the URL's, unless `--resolve` names its addresses.
    let connect_host = route.connect_host.clone().unwrap_or_else(|| host.clone());
    let overridden: Vec<std::net::SocketAddr> = route
        .resolve
        .iter()
        .filter(|(h, p, _)| h.eq_ignore_ascii_case(&connect_host) && *p == port)
        .map(|(_, p, ip)| std::net::SocketAddr::new(*ip, *p))
        .collect();
    let addrs: Vec<std::net::SocketAddr> = if overridden.is_empty() {
        timeout_at(
            until,
            tokio::net::lookup_host((connect_host.as_str(), port)),
        )
        .await
        .map_err(timed_out(Phase::Dns))?
        .map_err(|e| PhaseError::Dns {
            host: connect_host.clone(),
            source: Arc::new(e),
        })?
        .collect()
    } else {
        overridden
    };
    let dns = start.elapsed();

    // TCP: every address in turn (`localhost` may list ::1 before 127.0.0.1).
    let mut tcp = Err(PhaseError::NoAddress { host: host.clone() });
    for addr in addrs {
        match timeout_at(until, TcpStream::connect(addr))
            .await
            .map_err(timed_out(Phase::Connect))?
        {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                tcp = Ok(stream);
                break;
            }
            Err(e) => {
                tcp = Err(PhaseError::Connect {
                    addr,
                    source: Arc::new(e),
                })
            }
        }
    }
    let tcp = tcp?;
    let connect = start.elapsed() - dns;

    // TLS, keeping the leaf certificate.
    let (io, certificate): (Box<dyn Io>, _) = if https {
        let name = ServerName::try_from(host.clone()).map_err(|e| PhaseError::TlsName {
            host: host.clone(),
            source: Arc::new(e),
        })?;
        let stream = timeout_at(
            until,
            tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp),
        )
        .await
        .map_err(timed_out(Phase::Tls))?
        .map_err(|e| PhaseError::Tls {
            host: host.clone(),
            source: Arc::new(e),
        })?;
        let certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|der| der.clone().into_owned());
        (Box::new(stream), certificate)
    } else {
        (Box::new(tcp), None)
    };
    let tls_time = start.elapsed() - dns - connect;

    // HTTP/1.1.
    let (mut sender, conn) = timeout_at(
        until,
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io)),
    )
    .await
    .map_err(timed_out(Phase::Handshake))?
    .map_err(|e| PhaseError::Protocol(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let sent = start.elapsed();
    let response = timeout_at(until, sender.send_request(request))
        .await
        .map_err(timed_out(Phase::Response))?
        .map_err(|e| PhaseError::Protocol(e.to_string()))?;
    let ttfb = start.elapsed() - sent;
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let body = timeout_at(
        until,
        Limited::new(response.into_body(), max_body).collect(),
    )
    .await
    .map_err(timed_out(Phase::Body))?
    .map_err(|e| PhaseError::Protocol(format!("reading the body: {e}")))?
    .to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
        times: PhaseTimes {
            dns,
            connect,
            tls: tls_time,
            ttfb,
            total: start.elapsed(),
        },
        certificate,
    })
}

/// Sends `request` and reads the whole response, all before `until`. Its errors name no
/// host, address or anything the server sent ([`HttpError`]).
pub async fn send(
    request: &Request,
    tls: &Arc<rustls::ClientConfig>,
    until: Instant,
) -> Result<Response, HttpError> {
    let url = &request.url;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let (host_header, path) = target(url, host);
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
    let answer = exchange(url, &Route::default(), http_request, tls, until, MAX_BODY)
        .await
        .map_err(|e| match e {
            PhaseError::Url(what) => HttpError::Url(what),
            PhaseError::Dns { source, .. } | PhaseError::Connect { source, .. } => {
                HttpError::Connect(source.kind().to_string())
            }
            PhaseError::NoAddress { .. } => {
                HttpError::Connect(std::io::ErrorKind::NotFound.to_string())
            }
            PhaseError::TlsName { .. } => HttpError::Url("the URL's host is not a valid TLS name"),
            PhaseError::Tls { source, .. } => HttpError::Tls(tls_reason(&source)),
            PhaseError::Timeout { phase, .. } => HttpError::Timeout(match phase {
                Phase::Dns | Phase::Connect => "connecting",
                Phase::Tls => "TLS handshake",
                Phase::Handshake => "HTTP handshake",
                Phase::Response => "waiting for the response",
                Phase::Body => "reading the body",
            }),
            PhaseError::Protocol(what) => HttpError::Protocol(what),
        })?;
    Ok(Response {
        status: answer.status,
        headers: answer.headers,
        body: answer.body,
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
