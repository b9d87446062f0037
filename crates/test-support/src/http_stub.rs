//! A scripted HTTP or HTTPS server on 127.0.0.1 for endpoint checks: each path answers from its
//! script in order (the last answer repeats), after an optional delay, and counts requests.
//! It records every request (head and body); [`HttpStub::handler`] answers from a function
//! of the request instead (a stand-in for an API with state, such as GitHub's).

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

    /// This answer with header `name: value` too.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// This answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// A request as the stub received it.
#[derive(Debug, Clone)]
pub struct StubRequest {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query (after `?`), or empty.
    pub query: String,
    /// The request line and headers, as received.
    pub head: String,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

impl StubRequest {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Answers a request from what it is.
pub type Handler = Arc<dyn Fn(&StubRequest) -> Answer + Send + Sync>;

/// The running server; stops when dropped.
pub struct HttpStub {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    requests: Arc<Mutex<Vec<StubRequest>>>,
    _runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for HttpStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpStub({})", self.addr)
    }
}

impl HttpStub {
    /// Serves `routes` (path → script) on a free loopback port, plain HTTP.
    pub fn start(routes: Vec<(&str, Vec<Answer>)>) -> HttpStub {
        HttpStub::serve(Routes::Scripts(routes_map(routes)), None)
    }

    /// Serves every request with `handler`, plain HTTP.
    pub fn handler(handler: impl Fn(&StubRequest) -> Answer + Send + Sync + 'static) -> HttpStub {
        HttpStub::serve(Routes::Handler(Arc::new(handler)), None)
    }

    /// Serves `routes` over TLS with `config` (certificates made by the test).
    pub fn start_tls(
        routes: Vec<(&str, Vec<Answer>)>,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> HttpStub {
        HttpStub::serve(
            Routes::Scripts(routes_map(routes)),
            Some(tokio_rustls::TlsAcceptor::from(config)),
        )
    }

    fn serve(routes: Routes, tls: Option<tokio_rustls::TlsAcceptor>) -> HttpStub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let routes = Arc::new(routes);
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
            requests: heads,
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
        self.requests(path).into_iter().map(|r| r.head).collect()
    }

    /// Every request for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<StubRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Requests served for `path`.
    pub fn count(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

enum Routes {
    Scripts(HashMap<String, Vec<Answer>>),
    Handler(Handler),
}

fn routes_map(routes: Vec<(&str, Vec<Answer>)>) -> HashMap<String, Vec<Answer>> {
    routes.into_iter().map(|(p, a)| (p.to_owned(), a)).collect()
}

async fn answer<S>(
    mut stream: S,
    routes: &Routes,
    counts: &Mutex<HashMap<String, usize>>,
    requests: &Mutex<Vec<StubRequest>>,
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
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    let mut body = head.split_off(end);
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or("GET").to_owned();
    let target = words.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = StubRequest {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        head: text.clone(),
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    request.body = body;
    let path = request.path.clone();
    requests.lock().unwrap().push(request.clone());
    let index = {
        let mut counts = counts.lock().unwrap();
        let n = counts.entry(path.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let answer = match routes {
        Routes::Handler(handler) => handler(&request),
        Routes::Scripts(routes) => match routes.get(&path) {
            Some(script) if !script.is_empty() => script[index.min(script.len() - 1)].clone(),
            _ => Answer {
                status: 404,
                content_type: "text/plain".into(),
                body: "not found".into(),
                delay: Duration::ZERO,
                headers: Vec::new(),
            },
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
