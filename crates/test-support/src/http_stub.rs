//! A scripted HTTP or HTTPS server on 127.0.0.1 for endpoint checks: each path answers from its
//! script in order (the last answer repeats), after an optional delay, and counts requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body (any bytes: a served release archive is binary).
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "application/json".into(),
            body: body.into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    /// A binary answer (`application/octet-stream`), as a release download is served.
    pub fn bytes(status: u16, body: Vec<u8>) -> Answer {
        Answer {
            status,
            content_type: "application/octet-stream".into(),
            body,
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    /// An HTML answer.
    pub fn html(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: body.into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Answer {
        let mut a = Answer::html(status, "moved");
        a.headers.push(("Location".into(), location.into()));
        a
    }

    /// This answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct HttpStub {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    heads: Arc<Mutex<Vec<(String, String)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl HttpStub {
    /// Serves `routes` (path → script) on a free loopback port, plain HTTP.
    pub fn start(routes: Vec<(&str, Vec<Answer>)>) -> HttpStub {
        HttpStub::serve(routes, None)
    }

    /// Serves `routes` over TLS with `config` (certificates made by the test).
    pub fn start_tls(
        routes: Vec<(&str, Vec<Answer>)>,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> HttpStub {
        HttpStub::serve(routes, Some(tokio_rustls::TlsAcceptor::from(config)))
    }

    fn serve(routes: Vec<(&str, Vec<Answer>)>, tls: Option<tokio_rustls::TlsAcceptor>) -> HttpStub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let routes: Arc<HashMap<String, Vec<Answer>>> =
            Arc::new(routes.into_iter().map(|(p, a)| (p.to_owned(), a)).collect());
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let c = Arc::clone(&counts);
        let h = Arc::clone(&heads);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (routes, counts, tls) = (Arc::clone(&routes), Arc::clone(&c), tls.clone());
                let heads = Arc::clone(&h);
                tokio::spawn(async move {
                    match tls {
                        // A failed handshake (the client refused the certificate) just ends.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                answer(stream, &routes, &counts, &heads).await;
                            }
                        }
                        None => answer(stream, &routes, &counts, &heads).await,
                    }
                });
            }
        });
        HttpStub {
            addr,
            counts,
            heads,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The request heads (request line and headers, as received) of every request for
    /// `path`, in order.
    pub fn request_heads(&self, path: &str) -> Vec<String> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// Requests served for `path`.
    pub fn count(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn answer<S>(
    mut stream: S,
    routes: &HashMap<String, Vec<Answer>>,
    counts: &Mutex<HashMap<String, usize>>,
    heads: &Mutex<Vec<(String, String)>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    heads
        .lock()
        .unwrap()
        .push((path.clone(), text.clone().into_owned()));
    let index = {
        let mut counts = counts.lock().unwrap();
        let n = counts.entry(path.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let answer = match routes.get(&path) {
        Some(script) if !script.is_empty() => script[index.min(script.len() - 1)].clone(),
        _ => Answer {
            status: 404,
            content_type: "text/plain".into(),
            body: "not found".into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        },
    };
    tokio::time::sleep(answer.delay).await;
    let extra: String = answer
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let mut response = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        answer.status,
        answer.content_type,
        answer.body.len(),
    )
    .into_bytes();
    response.extend_from_slice(&answer.body);
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}
