//! Logging: `tracing` to stderr, so stdout carries only results.
//!
//! `RUST_LOG` wins when set; otherwise the verbosity count picks the level
//! (0 warn, 1 info, 2 debug, 3+ trace) for the toolkit's crates; the libraries below them
//! that log (the AWS SDK, the HTTP and TLS stacks, tokio) stay at error until -vv. Only
//! those are named: nothing here names a crate above the core (a new tool's crate logs at
//! the chosen level without an edit here).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The logging libraries below the toolkit, as target prefixes.
const THIRD_PARTY: &[&str] = &[
    "aws", "hyper", "h2", "http", "rustls", "tokio", "tower", "mio", "want", "hcl", "jiff",
];

/// Installs the stderr subscriber. Calling it twice is harmless.
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // The libraries below (the AWS SDK among them) stay at `error` until -vv: their
    // warnings carry Debug dumps of responses that drown the tool's own messages. A
    // directive matches every target that starts with it (`aws` is `aws_config`,
    // `aws_smithy_runtime`, `aws_sdk_ecs`, ...).
    let others = if verbosity >= 2 { "warn" } else { "error" };
    let default = if verbosity >= 3 {
        "trace".to_owned()
    } else {
        std::iter::once(level.to_owned())
            .chain(
                THIRD_PARTY
                    .iter()
                    .map(|target| format!("{target}={others}")),
            )
            .collect::<Vec<_>>()
            .join(",")
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity >= 2)
        .try_init();
}
