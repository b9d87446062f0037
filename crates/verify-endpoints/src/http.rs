//! One HTTP(S) request, phase by phase, each phase timed.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

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

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// GETs `url`, all phases together bounded by `deadline`.
/// Where to connect instead of the URL's host: route pinning and `--resolve` overrides.
/// TLS SNI and the `Host` header stay the URL's host either way.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Resolve this name instead of the URL's host (a CloudFront distribution's domain).
    pub connect_host: Option<String>,
    /// `host:port` → address overrides, like curl's `--resolve`.
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
}

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

/// GETs `url` through `route` with `extra` headers, all phases together bounded by
/// `deadline`.
async fn fetch(
    url: &url::Url,
    route: &Route,
    extra: &RequestHeaders,
    tls: &Arc<rustls::ClientConfig>,
    deadline: Instant,
) -> Result<Response, FetchError> {
    let start = Instant::now();
    let elapsed = || ms(start.elapsed());
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);

    let addrs = resolve(&host, port, route, deadline, start).await?;
    let dns_ms = elapsed();
    let tcp = connect(&host, &addrs, deadline, start).await?;
    let connect_ms = elapsed() - dns_ms;
    let (io, cert_not_after) = secure(url, &host, tcp, tls, deadline, start).await?;
    let tls_ms = elapsed() - dns_ms - connect_ms;
    let (exchange, ttfb_ms) = exchange(url, &host, io, extra, deadline, start).await?;
    Ok(Response {
        status: exchange.status,
        content_type: exchange.content_type,
        headers: exchange.headers,
        body: exchange.body,
        timings: Timings {
            dns_ms,
            connect_ms,
            tls_ms,
            ttfb_ms,
            total_ms: elapsed(),
        },
        cert_not_after,
    })
}

/// A phase that ran out of time: `phase` and the time since the fetch started.
fn timed_out(
    phase: &'static str,
    start: Instant,
) -> impl Fn(tokio::time::error::Elapsed) -> FetchError {
    move |_| FetchError::Timeout {
        phase,
        after_ms: ms(start.elapsed()),
    }
}

/// DNS: the addresses of the host to connect to (the route's `connect_host`, else the
/// URL's), or the route's `--resolve` overrides for it.
async fn resolve(
    host: &str,
    port: u16,
    route: &Route,
    deadline: Instant,
    start: Instant,
) -> Result<Vec<std::net::SocketAddr>, FetchError> {
    let connect_host = route
        .connect_host
        .clone()
        .unwrap_or_else(|| host.to_owned());
    let overridden: Vec<std::net::SocketAddr> = route
        .resolve
        .iter()
        .filter(|(h, p, _)| h.eq_ignore_ascii_case(&connect_host) && *p == port)
        .map(|(_, p, ip)| std::net::SocketAddr::new(*ip, *p))
        .collect();
    let addrs: Vec<std::net::SocketAddr> = if overridden.is_empty() {
        timeout_at(
            deadline,
            tokio::net::lookup_host((connect_host.as_str(), port)),
        )
        .await
        .map_err(timed_out("dns", start))?
        .map_err(|e| FetchError::Dns {
            host: connect_host.clone(),
            source: Arc::new(e),
        })?
        .collect()
    } else {
        overridden
    };
    if addrs.is_empty() {
        return Err(FetchError::NoAddress {
            host: host.to_owned(),
        });
    }
    Ok(addrs)
}

/// TCP: every resolved address in turn (`localhost` may list ::1 before 127.0.0.1).
async fn connect(
    host: &str,
    addrs: &[std::net::SocketAddr],
    deadline: Instant,
    start: Instant,
) -> Result<TcpStream, FetchError> {
    let mut last_error = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(timed_out("connect", start))?
        {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => {
                let transient = matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                );
                last_error = Some(FetchError::Connect {
                    addr: addr.to_string(),
                    source: Arc::new(e),
                    transient,
                });
            }
        }
    }
    Err(last_error.unwrap_or(FetchError::NoAddress {
        host: host.to_owned(),
    }))
}

/// TLS for `https` URLs (with the server certificate's `notAfter`); plain TCP otherwise.
async fn secure(
    url: &url::Url,
    host: &str,
    tcp: TcpStream,
    tls: &Arc<rustls::ClientConfig>,
    deadline: Instant,
    start: Instant,
) -> Result<(Box<dyn Io>, Option<i64>), FetchError> {
    if url.scheme() != "https" {
        return Ok((Box::new(tcp), None));
    }
    let tls_error = |source: Arc<dyn std::error::Error + Send + Sync>| FetchError::Tls {
        host: host.to_owned(),
        source,
    };
    let name = ServerName::try_from(host.to_owned()).map_err(|e| tls_error(Arc::new(e)))?;
    let stream = timeout_at(
        deadline,
        tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp),
    )
    .await
    .map_err(timed_out("tls", start))?
    .map_err(|e| tls_error(Arc::new(e)))?;
    let cert_not_after = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp());
    Ok((Box::new(stream), cert_not_after))
}

/// What the HTTP exchange brought back.
struct Exchange {
    status: u16,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// HTTP/1.1: the GET with the extra headers, the response head (time to first byte,
/// returned beside the exchange) and the body (at most `MAX_BODY`).
async fn exchange(
    url: &url::Url,
    host: &str,
    io: Box<dyn Io>,
    extra: &RequestHeaders,
    deadline: Instant,
    start: Instant,
) -> Result<(Exchange, f64), FetchError> {
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
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
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Protocol(e.to_string()))?;
    for (name, value) in extra {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let sent = start.elapsed();
    let response = timeout_at(deadline, sender.send_request(request))
        .await
        .map_err(timed_out("response", start))?
        .map_err(|e| FetchError::Protocol(e.to_string()))?;
    let ttfb_ms = ms(start.elapsed() - sent);
    let status = response.status().as_u16();
    let headers = infra_notify::http::header_pairs(response.headers());
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = timeout_at(
        deadline,
        Limited::new(response.into_body(), MAX_BODY).collect(),
    )
    .await
    .map_err(timed_out("body", start))?
    .map_err(|e| FetchError::Protocol(format!("reading the body: {e}")))?
    .to_bytes();
    Ok((
        Exchange {
            status,
            content_type,
            headers,
            body,
        },
        ttfb_ms,
    ))
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
