//! The command-line conventions every binary shares.
//!
//! This crate is the binaries' side of the libraries: clap argument groups, the conversion of
//! clap values into library types, completions and man pages, logging to stderr, the
//! terminal progress bar, signals, and the one place where an error becomes a message on
//! stderr and an exit code. Only the tools' `cli` features depend on it: `infra-core` and
//! the tool libraries never print and have no clap.

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use clap::{Args, CommandFactory, ValueEnum};
use infra_core::aws::{AwsOptions, RetryMode};
use infra_core::error::error_chain;
use infra_core::exit::ExitStatus;
use infra_core::output::{write_report, OutputFormat, Report};
use infra_core::runner::{Caller, Progress, Signal, Stop, StopKind};
use infra_core::setup::Setup;
use std::path::PathBuf;
use std::time::Duration;

/// The variable naming the environment file when `--env-file` is not given.
pub const ENV_FILE_VAR: &str = "INFRA_ENV_FILE";

/// Options every tool takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The environment file (HCL) describing the environment to act on [env:
    /// INFRA_ENV_FILE; an empty value is unset]. `park` takes it repeated, or a directory
    /// (its `*.env.hcl` files): several environments in one run.
    #[arg(long, value_name = "PATH", global = true, action = clap::ArgAction::Append)]
    pub env_file: Vec<PathBuf>,

    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = OutputArg::Text, global = true)]
    pub output: OutputArg,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG wins when set.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The AWS options.
    #[command(flatten)]
    pub aws: AwsArgs,

    /// `--completions` and `--man`.
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// How the tool reaches AWS.
#[derive(Debug, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS region; overrides the environment file's `region`.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Named AWS profile (otherwise AWS_PROFILE or the standard credential chain).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// SDK retry mode for throttling and transient errors.
    #[arg(long, global = true, value_enum, default_value_t = RetryModeArg::Standard)]
    pub retry_mode: RetryModeArg,

    /// Cap on the attempts per AWS request, the first included. Without it, throttling
    /// and transient errors are retried until the run's deadline (or the operation
    /// timeout).
    #[arg(long, global = true, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// TCP connect timeout for AWS requests.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Upper bound for one AWS operation, retries included.
    #[arg(long, global = true, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub operation_timeout: Duration,

    /// Act even when the credentials belong to another account than the environment
    /// file's `account_id`. Dangerous; for break-glass use only.
    #[arg(long, global = true)]
    pub skip_account_guard: bool,
}

/// Generated documentation.
#[derive(Debug, Args)]
#[command(next_help_heading = "Generated documentation")]
pub struct GenerateArgs {
    /// Print a shell completion script and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long, exclusive = true)]
    pub man: bool,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    /// Human-readable text.
    Text,
    /// JSON with a versioned schema.
    Json,
}

impl From<OutputArg> for OutputFormat {
    fn from(arg: OutputArg) -> Self {
        match arg {
            OutputArg::Text => OutputFormat::Text,
            OutputArg::Json => OutputFormat::Json,
        }
    }
}

/// `--retry-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryModeArg {
    /// Exponential backoff with jitter.
    Standard,
    /// Standard plus client-side rate limiting.
    Adaptive,
}

impl From<RetryModeArg> for RetryMode {
    fn from(arg: RetryModeArg) -> Self {
        match arg {
            RetryModeArg::Standard => RetryMode::Standard,
            RetryModeArg::Adaptive => RetryMode::Adaptive,
        }
    }
}

/// Parses a duration such as `90s`, `5m` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    infra_core::retry::parse_duration(text)
        .map_err(|e| format!("`{text}` {}", e.predicate("90s or 5m")))
}

impl From<&AwsArgs> for AwsOptions {
    fn from(args: &AwsArgs) -> Self {
        AwsOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            retry_mode: args.retry_mode.into(),
            max_attempts: args.max_attempts,
            connect_timeout: args.connect_timeout,
            operation_timeout: args.operation_timeout,
        }
    }
}

pub use infra_core::setup::SetupError;

pub mod logging;

impl GlobalArgs {
    /// Installs logging at the requested verbosity.
    pub fn init_logging(&self) {
        crate::logging::init(self.verbose);
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.output.into()
    }

    /// What the libraries need of these arguments: the environment file, the SDK options,
    /// the account guard.
    pub fn setup(&self) -> Setup {
        self.setup_of(
            self.env_file
                .first()
                .cloned()
                .or_else(|| std::env::var_os(ENV_FILE_VAR).map(PathBuf::from)),
        )
    }

    /// [`GlobalArgs::setup`] for the environment file `env_file`.
    fn setup_of(&self, env_file: Option<PathBuf>) -> Setup {
        Setup {
            // An empty `INFRA_ENV_FILE` (a CI context variable left blank) is unset, not a
            // file named "".
            env_file: env_file.filter(|p| !p.as_os_str().is_empty()),
            aws: AwsOptions::from(&self.aws),
            skip_account_guard: self.aws.skip_account_guard,
        }
    }

    /// One [`Setup`] per environment file, for a tool that runs several environments
    /// (`park`): every `--env-file` in order, a directory standing for its `*.env.hcl`
    /// files (sorted by name); without `--env-file`, `INFRA_ENV_FILE` (a file or a
    /// directory). A directory without such a file, or a file named twice, is refused.
    pub fn setups(&self) -> Result<Vec<Setup>, String> {
        let given: Vec<PathBuf> = if self.env_file.is_empty() {
            std::env::var_os(ENV_FILE_VAR)
                .map(PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty())
                .into_iter()
                .collect()
        } else {
            self.env_file.clone()
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for path in given {
            if path.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(|e| format!("cannot read the directory {}: {e}", path.display()))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file()
                            && p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.ends_with(".env.hcl"))
                    })
                    .collect();
                if found.is_empty() {
                    return Err(format!(
                        "{} holds no environment file (`*.env.hcl`)",
                        path.display()
                    ));
                }
                found.sort();
                files.extend(found);
            } else {
                files.push(path);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for file in &files {
            let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
            if !seen.insert(key) {
                return Err(format!("{} is named twice", file.display()));
            }
        }
        if files.is_empty() {
            return Ok(vec![self.setup_of(None)]);
        }
        Ok(files.into_iter().map(|f| self.setup_of(Some(f))).collect())
    }
}

/// Prints completions or the man page when asked; returns the exit status if it did.
pub fn generate<C: CommandFactory>(args: &GenerateArgs) -> Option<ExitStatus> {
    let mut command = C::command();
    let name = command.get_name().to_owned();
    let mut stdout = std::io::stdout();
    if let Some(shell) = args.completions {
        clap_complete::generate(shell, &mut command, name, &mut stdout);
        return Some(ExitStatus::Success);
    }
    if args.man {
        let status = match clap_mangen::Man::new(command).render(&mut stdout) {
            Ok(()) => ExitStatus::Success,
            Err(e) => report_error(&e, ExitStatus::Failure),
        };
        return Some(status);
    }
    None
}

/// Prints `err` with its causes on stderr and returns `status`: the last step of every
/// failing command.
pub fn report_error(err: &(dyn std::error::Error + 'static), status: ExitStatus) -> ExitStatus {
    eprintln!("error: {}", error_chain(err));
    status
}

/// Writes `report` to stdout in the chosen format. A closed pipe (`| head`) is not an
/// error: the reader has what it wanted.
pub fn emit<R: Report>(report: &R, format: OutputFormat, success: ExitStatus) -> ExitStatus {
    match write_report(report, format, &mut std::io::stdout().lock()) {
        Ok(()) => success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => success,
        Err(e) => report_error(&e, ExitStatus::Failure),
    }
}

/// Writes `text` to stdout as it is; a closed pipe (`| head`) is not an error.
pub fn emit_text(text: &str, success: ExitStatus) -> ExitStatus {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => success,
        Err(e) => report_error(&e, ExitStatus::Failure),
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise (CI logs).
#[derive(Debug, Default)]
pub struct TerminalProgress(std::sync::OnceLock<indicatif::ProgressBar>);

impl Progress for TerminalProgress {
    fn start(&self, total: u64, what: &str) {
        use std::io::IsTerminal;
        let bar = self.0.get_or_init(|| {
            if !std::io::stderr().is_terminal() {
                return indicatif::ProgressBar::hidden();
            }
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_length(total);
        bar.set_message(what.to_owned());
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.0.get() {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.0.get() {
            bar.finish_and_clear();
        }
    }
}

/// The caller every binary passes to its library: a terminal progress bar and
/// [`stop_on_signals`].
pub fn caller() -> Caller {
    Caller {
        progress: std::sync::Arc::new(TerminalProgress::default()),
        on_signals: stop_on_signals,
    }
}

/// Listens for SIGINT and SIGTERM (CircleCI cancels a job with SIGTERM, then SIGKILL) and
/// fires the returned [`Stop`] as `kind` says: for
/// [`StopKind::Finish`] the first logs `first`, a second
/// exits at once with status 1 after printing `second`; for
/// [`StopKind::Forward`] every signal is passed to the
/// run and none exits. Needs a Tokio runtime.
pub fn stop_on_signals(kind: StopKind) -> Stop {
    let (tx, stop) = Stop::channel();
    let mut signals = Signals::new();
    tokio::spawn(async move {
        match kind {
            StopKind::Finish { first, second } => {
                let signal = signals.next().await;
                tracing::warn!("{signal}: stopping: {first} (a second signal stops at once)");
                tx.signal(signal);
                let again = signals.next().await;
                let second = second.lock().map(|s| s.clone()).unwrap_or_default();
                eprintln!("error: {again} again: stopping at once; {second}");
                std::process::exit(ExitStatus::Failure.code().into());
            }
            StopKind::Forward => loop {
                let signal = signals.next().await;
                tracing::warn!("{signal}: stopping: no further command starts");
                tx.signal(signal);
            },
        }
    });
    stop
}

/// SIGINT and SIGTERM, listened for from creation on (so none is missed between two
/// [`Signals::next`] calls).
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Signals(Some((int, term))),
            _ => Signals(None),
        }
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) -> Signal {
        match &mut self.0 {
            Some((int, term)) => tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            },
            None => std::future::pending().await,
        }
    }
}

/// The tools that take `--env-file` more than once (several environments in one run).
pub const MULTI_ENVIRONMENT_TOOLS: &[&str] = &["park"];

/// The common start of every binary: completions or man page when asked, logging, the
/// subcommand (exit 2 with the help when missing), a Tokio runtime, then `run`.
pub fn run_command<C, S, F, Fut>(global: &GlobalArgs, command: Option<S>, run: F) -> ExitStatus
where
    C: CommandFactory,
    F: FnOnce(S) -> Fut,
    Fut: std::future::Future<Output = ExitStatus>,
{
    if let Some(status) = generate::<C>(&global.generate) {
        return status;
    }
    global.init_logging();
    let name = C::command().get_name().to_owned();
    if global.env_file.len() > 1 && !MULTI_ENVIRONMENT_TOOLS.contains(&name.as_str()) {
        eprintln!(
            "error: {name} acts on one environment: give --env-file once (several environments in one run: park)"
        );
        return ExitStatus::InvalidInput;
    }
    let Some(command) = command else {
        eprintln!(
            "error: a subcommand is required\n\n{}",
            C::command().render_help()
        );
        return ExitStatus::InvalidInput;
    };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(command)),
        Err(e) => report_error(&e, ExitStatus::Failure),
    }
}
