//! An emulator per test binary: moto's application, served by waitress through
//! `scripts/emulator.d/moto_server.py` (keep-alive and a thread pool instead of
//! `moto_server`'s connection-per-request werkzeug server).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// A running emulator on 127.0.0.1.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    port: u16,
    child: Mutex<Option<Child>>,
}

/// Exclusive use of the shared emulator by one test, with its state reset at the start.
#[derive(Debug)]
pub struct MotoSession {
    moto: &'static Moto,
    _guard: MutexGuard<'static, ()>,
}

static SHARED: OnceLock<Moto> = OnceLock::new();
static SESSION_LOCK: Mutex<()> = Mutex::new(());

impl Moto {
    /// Starts a new server on a free loopback port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        // moto's application served by waitress (keep-alive, a thread pool) rather than
        // `moto_server`'s werkzeug server; see scripts/emulator.d/moto_server.py.
        let exe = crate::venv().join("bin/python");
        let launcher = crate::workspace_root().join("scripts/emulator.d/moto_server.py");
        if !exe.is_file() || !launcher.is_file() {
            return Err(format!(
                "{} or {} not found: run scripts/setup",
                exe.display(),
                launcher.display()
            ));
        }
        let port = free_port()?;
        let parent = std::process::id();
        // The watchdog shell ends the server when the test process is gone, so a killed or
        // panicking test binary never leaves an emulator behind.
        let script = format!(
            "\"$0\" \"$1\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & server=$!; \
             trap 'kill $server 2>/dev/null; exit 0' TERM INT; \
             while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; \
             kill $server 2>/dev/null; wait $server 2>/dev/null"
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&exe)
            .arg(&launcher)
            .env(
                "MOTO_ECS_SERVICE_RUNNING",
                std::env::var("MOTO_ECS_SERVICE_RUNNING").unwrap_or_else(|_| "0".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child: Mutex::new(Some(child)),
        };
        moto.wait_ready(Duration::from_secs(60))?;
        Ok(moto)
    }

    /// The shared server of this test binary, started on first use.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("moto harness: {e}")))
    }

    /// Takes the shared server for one test: waits for other tests using it, then resets it.
    pub fn session() -> MotoSession {
        let moto = Moto::shared();
        let guard = SESSION_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        moto.reset().unwrap_or_else(|e| panic!("moto harness: {e}"));
        MotoSession {
            moto,
            _guard: guard,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Clears all emulated state.
    pub fn reset(&self) -> Result<(), String> {
        let url = format!("{}/moto-api/reset", self.endpoint);
        ureq::post(&url)
            .send_empty()
            .map_err(|e| format!("POST {url}: {e}"))?;
        Ok(())
    }

    /// Makes `model` (`ecs::task`) advance only after `times` reads through moto's state
    /// manager: an ECS task then stays RUNNING until it is stopped, where moto would advance
    /// it on every DescribeTasks.
    pub fn hold_state(&self, model: &str, times: u64) -> Result<(), String> {
        let url = format!("{}/moto-api/state-manager/set-transition", self.endpoint);
        let body = format!(
            r#"{{"model_name": "{model}", "transition": {{"progression": "manual", "times": {times}}}}}"#
        );
        ureq::post(&url)
            .header("content-type", "application/json")
            .send(body.as_str())
            .map_err(|e| format!("POST {url}: {e}"))?;
        Ok(())
    }

    /// An SDK configuration pointing at this server with dummy credentials. Built
    /// explicitly, so it never reads the developer's profiles or probes instance metadata.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("eu-west-2"))
            .credentials_provider(dummy_credentials())
            .load()
            .await
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        let url = format!("{}/moto-api/", self.endpoint);
        loop {
            if ureq::get(&url).call().is_ok() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "moto_server did not answer on {url} within {timeout:?}"
                ));
            }
            if let Some(child) = self.child.lock().unwrap().as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("moto_server exited with {status}"));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            // SIGTERM the watchdog; it ends the server.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MotoSession {
    /// The server.
    pub fn moto(&self) -> &'static Moto {
        self.moto
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        self.moto.endpoint()
    }

    /// See [`Moto::sdk_config`].
    pub async fn sdk_config(&self) -> SdkConfig {
        self.moto.sdk_config().await
    }
}

fn dummy_credentials() -> aws_sdk_sts::config::Credentials {
    aws_sdk_sts::config::Credentials::new(
        "testing",
        "testing",
        Some("testing".into()),
        None,
        "infra-test-support",
    )
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
