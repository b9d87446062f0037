//! Running Terraform: one consistent invocation, output streamed live, signals forwarded.
//!
//! Every run is `BINARY -chdir=ROOT SUBCOMMAND …` with `TF_IN_AUTOMATION=1`, `TF_INPUT=0` and
//! `CHECKPOINT_DISABLE=1` (no version check calling out),
//! and without `TF_CLI_ARGS*` / `TF_WORKSPACE` (which would silently change what runs).
//! With the account guard on, it carries the verified credentials as `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and no `AWS_PROFILE` or web-identity
//! variable ([`infra_core::aws::VerifiedCredentials::apply_to`]).
//! Terraform's stdout and stderr go to one log file that is copied to our stderr as it
//! grows (every 50 ms; stdout is kept for the tool's own result) and kept, so a failure
//! can be diagnosed from the text. A file rather than pipes, so Terraform survives our death
//! and still releases its lock.
//!
//! Terraform runs in its own process group, so a Ctrl-C in a terminal reaches it once,
//! through us: the caller's [`Stop`] (`StopKind::Forward`) passes each SIGINT/SIGTERM on,
//! Terraform gets a grace period to stop cleanly and release its state lock, and only then
//! is it killed. Once a stop was asked for, no further Terraform command starts.

use infra_core::runner::{Signal, Stop};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How much of Terraform's output is kept for diagnosis (the tail).
const KEEP_BYTES: usize = 8 * 1024 * 1024;

/// The variables removed from Terraform's environment when set: they inject arguments or
/// pick another workspace behind the wrapper's back.
pub fn overriding_variables() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("TF_CLI_ARGS") || k == "TF_WORKSPACE")
        .collect()
}

/// How to run Terraform for one root module.
#[derive(Debug, Clone)]
pub struct Terraform {
    /// `terraform`, `tofu`, or a path.
    pub binary: String,
    /// The root module (`-chdir`).
    pub root: PathBuf,
    /// Colour on (a TTY); otherwise `-no-color` is passed where Terraform accepts it.
    pub color: bool,
    /// How long Terraform may take to stop after a forwarded signal before it is killed.
    pub grace: Duration,
    /// Copy Terraform's output to stderr as it arrives. The binary sets it (the user sees
    /// Terraform live); the library itself prints nothing unless asked.
    pub echo: bool,
    /// The credentials the account guard verified: Terraform gets exactly these in its
    /// environment, and no profile or web-identity variable that could pick others.
    /// `None` (`--skip-account-guard`, or no guard run yet): Terraform's environment keeps
    /// whatever credentials configuration the caller had.
    pub credentials: Option<infra_core::aws::VerifiedCredentials>,
    /// The run's stop: each signal is forwarded to a running Terraform, and nothing starts
    /// after the first.
    pub stop: Stop,
}

/// A finished Terraform run.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code; `None` when it was killed by a signal.
    pub code: Option<i32>,
    /// Its stdout and stderr as they arrived (the last 8 MiB).
    pub output: String,
    /// The signal we forwarded, if the run was interrupted.
    pub interrupted: Option<Signal>,
    /// Whether it had to be killed after the grace period.
    pub killed: bool,
}

/// Terraform could not be started or waited for.
#[derive(Debug, thiserror::Error)]
#[error("cannot run `{binary}`: {source}")]
pub struct SpawnError {
    /// The binary.
    pub binary: String,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Terraform was not run, or could not be waited for.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It could not be started or waited for.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A stop was asked for before it started: it was not started.
    #[error("{0} received before `terraform {1}` started: not started")]
    Stopped(Signal, String),
}

impl Terraform {
    /// Refuses to start anything once a stop was asked for.
    fn not_stopped(&self, args: &[OsString]) -> Result<(), RunError> {
        match self.stop.signal() {
            None => Ok(()),
            Some(signal) => Err(RunError::Stopped(
                signal,
                args.first()
                    .map(|a| a.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
        }
    }

    /// The base command: binary, `-chdir`, environment.
    pub fn command(&self, args: &[OsString]) -> Command {
        let mut cmd = Command::new(&self.binary);
        let mut chdir = OsString::from("-chdir=");
        chdir.push(self.root.as_os_str());
        cmd.arg(chdir).args(args);
        for name in overriding_variables() {
            cmd.env_remove(name);
        }
        if let Some(credentials) = &self.credentials {
            credentials.apply_to(&mut cmd);
        }
        // CHECKPOINT_DISABLE: no upgrade check calling out from a production job.
        cmd.env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1");
        // No kill_on_drop: killing Terraform mid-operation is what leaves locks behind.
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `-no-color` unless on a TTY.
    pub fn color_args(&self) -> Vec<OsString> {
        if self.color {
            Vec::new()
        } else {
            vec!["-no-color".into()]
        }
    }

    /// Runs a command whose stdout is data (`version -json`, `show -json`): stdout captured,
    /// stderr passed through.
    pub async fn capture(
        &self,
        args: &[OsString],
    ) -> Result<(Option<i32>, Vec<u8>, String), RunError> {
        self.not_stopped(args)?;
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = cmd
            .output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        Ok((
            out.status.code(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    fn spawn_error(&self, source: std::io::Error) -> SpawnError {
        SpawnError {
            binary: self.binary.clone(),
            source,
        }
    }

    /// Runs a long command (`init`, `plan`, `apply`) with its output streamed to stderr,
    /// forwarding each signal of the run's stop.
    pub async fn stream(&self, args: &[OsString]) -> Result<Finished, RunError> {
        let mut stop = self.stop.clone();
        stop.mark_seen();
        self.not_stopped(args)?;
        let err = |source| self.spawn_error(source);
        // Terraform writes to a file, not to pipes: if this process dies (SIGKILL, OOM),
        // Terraform is not killed by a broken pipe at its next line of output, half-way
        // through and holding the state lock; it finishes and unlocks. One file for both
        // streams (append mode) keeps their order. A run that was killed leaves the file
        // in the temporary directory.
        let log = tempfile::Builder::new()
            .prefix("tf-wrap-terraform-")
            .suffix(".log")
            .tempfile()
            .map_err(err)?;
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .map_err(err)?;
        let writer2 = writer.try_clone().map_err(err)?;
        // Opened synchronously (a local temporary file): an `.await` here would let the
        // futures joined with this one (the park records' reads) run before Terraform is
        // even started, adding their set-up to the plan's critical path.
        let mut reader = tokio::fs::File::from_std(std::fs::File::open(log.path()).map_err(err)?);
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2))
            .process_group(0);
        tracing::info!(binary = %self.binary, root = %self.root.display(), ?args, "running terraform");
        let mut child = cmd.spawn().map_err(err)?;
        let pid = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        let mut kept = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut interrupted = None;
        let mut killed = false;
        let mut deadline: Option<tokio::time::Instant> = None;
        let status = loop {
            let grace_over = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = child.wait() => break status,
                _ = tick.tick() => echo(&mut reader, &mut kept, self.echo).await,
                signal = stop.next() => {
                    forward(pid, signal, self.grace);
                    interrupted.get_or_insert(signal);
                    deadline.get_or_insert(tokio::time::Instant::now() + self.grace);
                }
                () = grace_over => {
                    tracing::error!("Terraform did not stop within {}; killing it. Its state lock may be left behind: check with the team before `terraform force-unlock`.", humantime::format_duration(self.grace));
                    let _ = child.start_kill();
                    killed = true;
                    deadline = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
                }
            }
        };
        let status = status.map_err(err)?;
        echo(&mut reader, &mut kept, self.echo).await;
        Ok(Finished {
            code: status.code(),
            output: String::from_utf8_lossy(&kept).into_owned(),
            interrupted,
            killed,
        })
    }
}

/// Keeps what Terraform wrote since the last call (the tail), and copies it to our stderr
/// when `to_stderr`.
async fn echo(reader: &mut tokio::fs::File, kept: &mut Vec<u8>, to_stderr: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stderr = tokio::io::stderr();
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Echo failures (a closed stderr) must not stop Terraform or the capture.
        if to_stderr {
            let _ = stderr.write_all(&buf[..n]).await;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > KEEP_BYTES * 2 {
            let cut = kept.len() - KEEP_BYTES;
            kept.drain(..cut);
        }
    }
    let _ = stderr.flush().await;
}

fn forward(pid: Option<rustix::process::Pid>, signal: Signal, grace: Duration) {
    tracing::warn!(
        "{signal} received; passing it to Terraform, which has {} to stop and release its state lock",
        humantime::format_duration(grace)
    );
    let signal = match signal {
        Signal::Interrupt => rustix::process::Signal::INT,
        Signal::Terminate => rustix::process::Signal::TERM,
    };
    if let Some(pid) = pid {
        if let Err(e) = rustix::process::kill_process(pid, signal) {
            tracing::warn!(
                "cannot signal terraform (pid {}): {e}",
                pid.as_raw_nonzero()
            );
        }
    }
}

/// `path` made absolute against the current directory, for arguments Terraform would
/// otherwise resolve against `-chdir`.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_owned())
    }
}
