//! Logging: `tracing` to stderr, so stdout carries only results.
//!
//! `RUST_LOG` wins when set; otherwise the verbosity count picks the level
//! (0 warn, 1 info, 2 debug, 3+ trace) for the toolkit's crates; other crates stay at
//! error until -vv.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber. Calling it twice is harmless.
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Other crates (the AWS SDK among them) stay at `error` until -vv: their warnings carry
    // Debug dumps of responses that drown the tool's own messages.
    let others = if verbosity >= 2 { "warn" } else { "error" };
    let default = if verbosity >= 3 {
        "trace".to_owned()
    } else {
        format!("{others},infra_core={level},park={level},ecr_tags={level},verify_endpoints={level},tf_wrap={level},state_lock={level}")
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity >= 2)
        .try_init();
}
