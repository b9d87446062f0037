//! `tf-wrap`: the command line is the library's [`tf_wrap::cli`] module (shared with the
//! multi-call `infra-toolkit` binary).

fn main() -> std::process::ExitCode {
    tf_wrap::cli::main(std::env::args_os().collect())
}
