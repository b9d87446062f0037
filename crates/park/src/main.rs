//! `park`: the command line is the library's [`park::cli`] module (shared with the
//! multi-call `infra-toolkit` binary).

fn main() -> std::process::ExitCode {
    park::cli::main(std::env::args_os().collect())
}
