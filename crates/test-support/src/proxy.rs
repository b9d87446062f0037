//! A recording HTTP proxy between a tool and the emulator, on 127.0.0.1.
//!
//! It logs every AWS call as `service:Action` (the service from the SigV4 credential scope,
//! the action from `X-Amz-Target` or the query-protocol body), and can kill the tool's
//! process with SIGKILL right after the emulator has carried out its Nth mutating call but
//! before the tool sees the answer: the worst moment for a crash.
//!
//! Each request is forwarded on its own upstream connection with `Connection: close`, so
//! the proxy never has to understand response framing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One AWS call seen by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 signing name (`ecs`, `application-autoscaling`, `rds`, `sts`).
    pub service: String,
    /// The API action (`UpdateService`).
    pub action: String,
}

impl Call {
    /// `service:Action`, as in IAM.
    pub fn iam_action(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    /// Whether the call changes state (anything but Describe*, List*, Get*).
    pub fn is_mutating(&self) -> bool {
        !["Describe", "List", "Get"]
            .iter()
            .any(|p| self.action.starts_with(p))
    }
}

#[derive(Debug, Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    mutations: AtomicUsize,
    kill_after: AtomicUsize,
    target_pid: AtomicU32,
    killed: AtomicBool,
    delay: Mutex<Option<(String, Duration)>>,
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    endpoint: String,
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .filter(|a: &SocketAddr| a.ip().is_loopback())
            .expect("the proxy only forwards to http://127.0.0.1:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream, &s);
                });
            }
        });
        Proxy {
            endpoint: format!("http://{addr}"),
            addr,
            state,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every call seen so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Forgets the calls seen so far and disarms the kill.
    pub fn clear(&self) {
        self.state.calls.lock().unwrap().clear();
        self.state.mutations.store(0, Ordering::SeqCst);
        self.state.kill_after.store(0, Ordering::SeqCst);
        self.state.target_pid.store(0, Ordering::SeqCst);
        self.state.killed.store(false, Ordering::SeqCst);
    }

    /// Arms the kill: after the `n`th mutating call (1-based) has been carried out, the
    /// process given to [`Proxy::set_target`] gets SIGKILL before it sees the answer.
    pub fn kill_after_mutations(&self, n: usize) {
        self.state.kill_after.store(n, Ordering::SeqCst);
    }

    /// The process to kill.
    pub fn set_target(&self, pid: u32) {
        self.state.target_pid.store(pid, Ordering::SeqCst);
    }

    /// Whether the armed kill fired.
    pub fn killed(&self) -> bool {
        self.state.killed.load(Ordering::SeqCst)
    }

    /// Holds every request that matches for `delay` before forwarding it; `None` stops
    /// delaying. The match is a signing name (`s3`) or `service:Action`
    /// (`dynamodb:DeleteItem`). Makes a fast operation slow enough to overlap with another
    /// (a state lock held during a plan).
    pub fn delay(&self, delay: Option<(&str, Duration)>) {
        *self.state.delay.lock().unwrap() = delay.map(|(s, d)| (s.to_owned(), d));
    }

    /// How many mutating calls were carried out.
    pub fn mutations(&self) -> usize {
        self.state.mutations.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(client: TcpStream, upstream: SocketAddr, state: &State) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    let call = identify(header("authorization"), header("x-amz-target"), &body);
    let delay = state.delay.lock().unwrap().clone();
    if let Some((service, pause)) = delay {
        let matches = signing_service(header("authorization")).as_deref() == Some(service.as_str())
            || call.as_ref().is_some_and(|c| c.iam_action() == service);
        if matches {
            std::thread::sleep(pause);
        }
    }
    head.extend_from_slice(request_line.as_bytes());
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");

    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;

    if let Some(call) = call {
        let mutating = call.is_mutating();
        state.calls.lock().unwrap().push(call);
        if mutating {
            let n = state.mutations.fetch_add(1, Ordering::SeqCst) + 1;
            let kill_after = state.kill_after.load(Ordering::SeqCst);
            if kill_after > 0 && n >= kill_after {
                kill_target(state);
                // The tool never sees this answer.
                return Ok(());
            }
        }
    }
    let mut client = client;
    client.write_all(&response)?;
    client.flush()
}

fn kill_target(state: &State) {
    let started = Instant::now();
    loop {
        let pid = state.target_pid.load(Ordering::SeqCst);
        if pid != 0 {
            // Only the first caller kills: parallel requests reach here too.
            if !state.killed.swap(true, Ordering::SeqCst) {
                let _ = std::process::Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            return;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The SigV4 signing name of a request: `Credential=AKID/20261122/eu-west-2/ecs/aws4_request`.
fn signing_service(authorization: Option<&str>) -> Option<String> {
    let scope = authorization?
        .split("Credential=")
        .nth(1)?
        .split(',')
        .next()?;
    Some(scope.split('/').nth(3)?.to_owned())
}

fn identify(authorization: Option<&str>, target: Option<&str>, body: &[u8]) -> Option<Call> {
    let service = signing_service(authorization)?;
    let action = match target {
        Some(t) => t.rsplit('.').next()?.to_owned(),
        None => {
            let text = std::str::from_utf8(body).ok()?;
            text.split('&')
                .find_map(|kv| kv.strip_prefix("Action="))?
                .to_owned()
        }
    };
    Some(Call { service, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_json_and_query_calls() {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20261122/eu-west-2/ecs/aws4_request, SignedHeaders=host, Signature=x";
        let c = identify(
            Some(auth),
            Some("AmazonEC2ContainerServiceV20141113.UpdateService"),
            b"{}",
        )
        .unwrap();
        assert_eq!(c.iam_action(), "ecs:UpdateService");
        assert!(c.is_mutating());
        let auth = auth.replace("/ecs/", "/rds/");
        let c = identify(
            Some(&auth),
            None,
            b"Action=DescribeDBClusters&Version=2014-10-31",
        )
        .unwrap();
        assert_eq!(c.iam_action(), "rds:DescribeDBClusters");
        assert!(!c.is_mutating());
        assert_eq!(identify(None, None, b""), None);
    }
}
