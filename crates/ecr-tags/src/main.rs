//! `ecr-tags`: the command line is the library's [`ecr_tags::cli`] module (shared with the
//! multi-call `infra-toolkit` binary).

fn main() -> std::process::ExitCode {
    ecr_tags::cli::main(std::env::args_os().collect())
}
