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

use crate::throttle::{AwsBucket, BucketCount, Throttle};

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
    lose: Mutex<Vec<String>>,
    faults: Mutex<Option<Faults>>,
    faults_only: Mutex<Option<String>>,
    requests: AtomicUsize,
    injected: Mutex<FaultCounts>,
    throttle_once: Mutex<Vec<String>>,
    task_end: Mutex<Option<TaskEnd>>,
    throttle: Mutex<Option<Throttle>>,
}

/// How a stopped ECS task ended, written into the emulator's DescribeTasks answers: moto
/// 5.2.5 reports every container with exit code 0 and no stop code, so the proxy stands in
/// for what ECS says of a container that exited (its exit code, `EssentialContainerExited`)
/// or of a task that never started (`TaskFailedToStart`, no exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    /// The container whose end is rewritten.
    pub container: String,
    /// Its exit code; `None`: it never ran (the field is removed).
    pub exit_code: Option<i32>,
    /// The task's `stopCode`.
    pub stop_code: String,
    /// The task's `stoppedReason`.
    pub stopped_reason: String,
    /// The container's `reason`, when it has one (`OutOfMemoryError: …`).
    pub container_reason: Option<String>,
}

impl TaskEnd {
    /// The essential container `container` exited with `code`.
    pub fn exited(container: &str, code: i32) -> TaskEnd {
        TaskEnd {
            container: container.to_owned(),
            exit_code: Some(code),
            stop_code: "EssentialContainerExited".to_owned(),
            stopped_reason: "Essential container in task exited".to_owned(),
            container_reason: None,
        }
    }

    /// Rewrites the STOPPED tasks of a DescribeTasks answer's JSON body as `self` says; a
    /// task run-task stopped itself (its StopTask reason starts `stopped by run-task`)
    /// keeps its reason and gets ECS's `UserInitiated`.
    fn apply(&self, body: &mut serde_json::Value) {
        let Some(tasks) = body.get_mut("tasks").and_then(|t| t.as_array_mut()) else {
            return;
        };
        for task in tasks {
            if task.get("lastStatus").and_then(|s| s.as_str()) != Some("STOPPED") {
                continue;
            }
            let stopped_by_tool = task
                .get("stoppedReason")
                .and_then(|r| r.as_str())
                .is_some_and(|r| r.starts_with("stopped by run-task"));
            if stopped_by_tool {
                task["stopCode"] = "UserInitiated".into();
                continue;
            }
            task["stopCode"] = self.stop_code.clone().into();
            task["stoppedReason"] = self.stopped_reason.clone().into();
            for c in task
                .get_mut("containers")
                .and_then(|c| c.as_array_mut())
                .into_iter()
                .flatten()
            {
                if c.get("name").and_then(|n| n.as_str()) != Some(self.container.as_str()) {
                    continue;
                }
                c["lastStatus"] = "STOPPED".into();
                match self.exit_code {
                    Some(code) => c["exitCode"] = code.into(),
                    None => {
                        if let Some(o) = c.as_object_mut() {
                            o.remove("exitCode");
                        }
                    }
                }
                if let Some(r) = &self.container_reason {
                    c["reason"] = r.clone().into();
                }
            }
        }
    }
}

/// Faults to inject, each request drawing from a schedule fixed by `seed`: the `n`th
/// request to arrive always gets the same fate for the same seed, so a failure reproduces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// The schedule's seed.
    pub seed: u64,
    /// Share of requests answered with a throttling error in the service's protocol.
    pub throttle: f64,
    /// Share answered with HTTP 500/503 in the service's protocol.
    pub server_error: f64,
    /// Share whose connection is closed without an answer (before reaching the emulator).
    pub reset: f64,
    /// Up to this much latency added to the requests that are forwarded.
    pub max_latency: Duration,
}

/// What the proxy did under [`Faults`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests seen.
    pub requests: usize,
    /// Throttling errors answered.
    pub throttled: usize,
    /// 500/503 answered.
    pub server_errors: usize,
    /// Connections closed without an answer.
    pub resets: usize,
    /// Requests forwarded to the emulator.
    pub forwarded: usize,
}

impl FaultCounts {
    /// Requests answered with a fault (throttled, 5xx or reset): each one the tool had to
    /// retry.
    pub fn injected(&self) -> usize {
        self.throttled + self.server_errors + self.resets
    }
}

impl std::ops::AddAssign for FaultCounts {
    fn add_assign(&mut self, other: FaultCounts) {
        self.requests += other.requests;
        self.throttled += other.throttled;
        self.server_errors += other.server_errors;
        self.resets += other.resets;
        self.forwarded += other.forwarded;
    }
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

    /// Loses the answer of the next call to each of `actions` (`dynamodb:PutItem`): the
    /// emulator carries the call out, then the connection is closed without a byte of
    /// answer, so the SDK retries a call that already took effect — the worst case for a
    /// conditional write.
    pub fn lose_answers(&self, actions: &[&str]) {
        *self.state.lose.lock().unwrap() = actions.iter().map(|a| (*a).to_owned()).collect();
    }

    /// Answers the next call to each of `actions` (`ecs:RunTask`) with a throttling error
    /// without forwarding it: the emulator never sees it.
    pub fn throttle_once(&self, actions: &[&str]) {
        *self.state.throttle_once.lock().unwrap() =
            actions.iter().map(|a| (*a).to_owned()).collect();
    }

    /// From now on, STOPPED tasks in DescribeTasks answers end as `end` says (see
    /// [`TaskEnd`]); `None` leaves the emulator's answers alone.
    pub fn task_end(&self, end: Option<TaskEnd>) {
        *self.state.task_end.lock().unwrap() = end;
    }

    /// Injects the faults only into calls to one service (its signing name, `dynamodb`),
    /// or, with `None`, into every call.
    pub fn faults_only(&self, service: Option<&str>) {
        *self.state.faults_only.lock().unwrap() = service.map(str::to_owned);
    }

    /// Throttles as AWS does, with `buckets` (full at this moment; [`crate::aws_buckets`]
    /// are AWS's): a call whose bucket is empty is answered `ThrottlingException` without
    /// reaching the emulator. `None` stops throttling.
    pub fn aws_throttling(&self, buckets: Option<Vec<AwsBucket>>) {
        *self.state.throttle.lock().unwrap() = buckets.map(Throttle::new);
    }

    /// What each bucket served and throttled since [`Proxy::aws_throttling`].
    pub fn bucket_counts(&self) -> Vec<BucketCount> {
        self.state
            .throttle
            .lock()
            .unwrap()
            .as_ref()
            .map(Throttle::counts)
            .unwrap_or_default()
    }

    /// Starts (or, with `None`, stops) injecting faults; counters restart.
    pub fn faults(&self, faults: Option<Faults>) {
        *self.state.faults.lock().unwrap() = faults;
        self.state.requests.store(0, Ordering::SeqCst);
        *self.state.injected.lock().unwrap() = FaultCounts::default();
    }

    /// What was injected since [`Proxy::faults`].
    pub fn fault_counts(&self) -> FaultCounts {
        *self.state.injected.lock().unwrap()
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

    let method = request_line
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let call = identify(header("authorization"), header("x-amz-target"), &body)
        .or_else(|| identify_s3(header("authorization"), &method));
    let only = state.faults_only.lock().unwrap().clone();
    let faults = (*state.faults.lock().unwrap())
        .filter(|_| only.is_none() || signing_service(header("authorization")) == only);
    if let Some(f) = faults {
        let n = state.requests.fetch_add(1, Ordering::SeqCst) as u64;
        let draw = |k: u64| unit(mix(f.seed ^ mix(n.wrapping_mul(4).wrapping_add(k))));
        let fate = draw(0);
        let mut counts = state.injected.lock().unwrap();
        counts.requests += 1;
        let service = signing_service(header("authorization")).unwrap_or_default();
        let json = header("x-amz-target").is_some();
        if fate < f.reset {
            counts.resets += 1;
            drop(counts);
            // Closed without a byte of answer; the emulator never saw the request.
            return client.shutdown(std::net::Shutdown::Both);
        } else if fate < f.reset + f.throttle {
            counts.throttled += 1;
            drop(counts);
            let mut client = client;
            return client.write_all(&fault_response(&service, json, true));
        } else if fate < f.reset + f.throttle + f.server_error {
            counts.server_errors += 1;
            drop(counts);
            let mut client = client;
            return client.write_all(&fault_response(&service, json, false));
        }
        counts.forwarded += 1;
        drop(counts);
        let pause = f.max_latency.mul_f64(draw(1));
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    if let Some(call) = &call {
        let throttled = state
            .throttle
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|t| t.throttles(&call.service, &call.action));
        if throttled {
            let json = header("x-amz-target").is_some();
            let mut client = client;
            return client.write_all(&fault_response(&call.service, json, true));
        }
        let throttled = {
            let mut once = state.throttle_once.lock().unwrap();
            let at = once.iter().position(|a| *a == call.iam_action());
            at.map(|i| once.remove(i)).is_some()
        };
        if throttled {
            state.calls.lock().unwrap().push(call.clone());
            let json = header("x-amz-target").is_some();
            let mut client = client;
            return client.write_all(&fault_response(&call.service, json, true));
        }
    }
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

    if call
        .as_ref()
        .is_some_and(|c| c.iam_action() == "ecs:DescribeTasks")
    {
        if let Some(end) = state.task_end.lock().unwrap().clone() {
            response = rewrite_json(&response, |body| end.apply(body));
        }
    }
    if let Some(call) = call {
        let mutating = call.is_mutating();
        let lost = {
            let mut lose = state.lose.lock().unwrap();
            let at = lose.iter().position(|a| *a == call.iam_action());
            at.map(|i| lose.remove(i)).is_some()
        };
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
        if lost {
            return client.shutdown(std::net::Shutdown::Both);
        }
    }
    let mut client = client;
    client.write_all(&response)?;
    client.flush()
}

/// A whole HTTP/1.1 answer with its JSON body changed by `edit` and `Content-Length`
/// set to the new body's; an answer that is not JSON with a length is returned as it was.
fn rewrite_json(response: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response.to_vec();
    };
    let (head, body) = (&response[..split], &response[split + 4..]);
    let Ok(head) = std::str::from_utf8(head) else {
        return response.to_vec();
    };
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return response.to_vec();
    };
    edit(&mut json);
    let body = serde_json::to_vec(&json).expect("JSON serializes");
    let mut out = String::new();
    for line in head.split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        } else if !line.to_ascii_lowercase().starts_with("transfer-encoding:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
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

/// SplitMix64's finaliser: a well-mixed 64-bit value from any input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in [0, 1) from 64 random bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// An error answer in the shape the service's protocol uses, so the SDK classifies it the
/// way it would classify AWS's: awsJson (`x-amz-target`: ECS, Application Auto Scaling,
/// ECR, DynamoDB) with `__type`; query/XML (RDS, STS) and CloudFront's REST/XML with an
/// `ErrorResponse`; S3 with its `Error` document and `SlowDown`; anything else a bare 429/503.
fn fault_response(service: &str, json: bool, throttle: bool) -> Vec<u8> {
    let (status, reason) = if throttle {
        (400, "Bad Request")
    } else {
        (503, "Service Unavailable")
    };
    let (status, reason, content_type, body) = if json {
        let kind = if throttle {
            "ThrottlingException"
        } else {
            "ServiceUnavailableException"
        };
        (
            status,
            reason,
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{kind}","message":"injected by the test proxy"}}"#),
        )
    } else if service == "s3" {
        let code = if throttle {
            "SlowDown"
        } else {
            "ServiceUnavailable"
        };
        (
            503,
            "Slow Down",
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message><RequestId>INJECTED</RequestId></Error>"),
        )
    } else if ["rds", "sts", "cloudfront"].contains(&service) {
        let (code, kind) = if throttle {
            ("Throttling", "Sender")
        } else {
            ("ServiceUnavailable", "Receiver")
        };
        (
            status,
            reason,
            "text/xml",
            format!("<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>injected by the test proxy</Message></Error><RequestId>INJECTED</RequestId></ErrorResponse>"),
        )
    } else if throttle {
        (
            429,
            "Too Many Requests",
            "text/plain",
            "injected by the test proxy".to_owned(),
        )
    } else {
        (
            503,
            "Service Unavailable",
            "text/plain",
            "injected by the test proxy".to_owned(),
        )
    };
    let type_header = if json {
        format!(
            "x-amzn-ErrorType: {}\r\n",
            if throttle {
                "ThrottlingException"
            } else {
                "ServiceUnavailableException"
            }
        )
    } else {
        String::new()
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{type_header}x-amzn-RequestId: INJECTED\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
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

/// An S3 (REST) call by its method: the proxy only needs the object calls the lock makes
/// (bucket-level calls by the same method get the object call's name).
fn identify_s3(authorization: Option<&str>, method: &str) -> Option<Call> {
    let service = signing_service(authorization)?;
    if service != "s3" {
        return None;
    }
    let action = match method {
        "PUT" => "PutObject",
        "GET" => "GetObject",
        "DELETE" => "DeleteObject",
        "HEAD" => "HeadObject",
        _ => return None,
    };
    Some(Call {
        service,
        action: action.to_owned(),
    })
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
