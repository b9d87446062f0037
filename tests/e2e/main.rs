//! End-to-end tests across the built binaries, run the way CI runs them: as processes, with
//! the environment pointing at the local emulator. `scripts/test` builds the binaries first.

mod bad_input;
mod circleci;
mod cli;
mod install;
mod park_status;
mod scripts;
mod secrets;
mod workflows;

/// The four tools.
pub const TOOLS: &[&str] = &[
    "park",
    "ecr-tags",
    "verify-endpoints",
    "tf-wrap",
    "run-task",
];

pub use infra_test_support::Run;

/// Runs `tool` with `args` against `endpoint` (the emulator, or a closed port).
pub fn run(tool: &str, args: &[&str], endpoint: &str) -> Run {
    run_with(tool, args, endpoint, &[])
}

/// Like [`run`], with extra environment variables (`("NAME", None)` removes one).
pub fn run_with(tool: &str, args: &[&str], endpoint: &str, vars: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = infra_test_support::command(infra_test_support::workspace_binary(tool), endpoint);
    cmd.args(args);
    for (name, value) in vars {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.output().expect("tool runs").into()
}

/// An address nothing listens on.
pub fn closed_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}
