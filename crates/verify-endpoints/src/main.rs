//! `verify-endpoints`: the command line is the library's [`verify_endpoints::cli`] module (shared with the
//! multi-call `infra-toolkit` binary).

fn main() -> std::process::ExitCode {
    verify_endpoints::cli::main(std::env::args_os().collect())
}
