//! `run-task`: the command line is the library's [`run_task::cli`] module (shared with the
//! multi-call `infra-toolkit` binary).

fn main() -> std::process::ExitCode {
    run_task::cli::main(std::env::args_os().collect())
}
