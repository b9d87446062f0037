//! `infra-toolkit`: the five tools in one binary, as busybox and rustup do. The release
//! ships this one binary with `park`, `ecr-tags`, `tf-wrap`, `verify-endpoints` and
//! `run-task` as links to it: each tool's code and the AWS SDK are linked in once instead
//! of five times.
//!
//! It runs the tool it is called as (`park down` through the `park` link), or the tool
//! its first argument names (`infra-toolkit park down`). Either way the tool sees its own
//! name first, so its usage, errors, completions and man page are the same as the
//! stand-alone binary's.

// Prints on purpose: this is a binary.
#![allow(clippy::disallowed_macros)]

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::ExitCode;

/// A tool's name and its command line.
type Tool = (&'static str, fn(Vec<OsString>) -> ExitCode);

const TOOLS: [Tool; 5] = [
    ("park", park::cli::main),
    ("ecr-tags", ecr_tags::cli::main),
    ("tf-wrap", tf_wrap::cli::main),
    ("verify-endpoints", verify_endpoints::cli::main),
    ("run-task", run_task::cli::main),
];

const NAME: &str = "infra-toolkit";

fn main() -> ExitCode {
    dispatch(std::env::args_os().collect())
}

fn tool(name: &OsStr) -> Option<Tool> {
    TOOLS.into_iter().find(|(tool, _)| OsStr::new(tool) == name)
}

fn dispatch(mut args: Vec<OsString>) -> ExitCode {
    let called = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .map(OsStr::to_owned)
        .unwrap_or_default();
    if let Some((_, main)) = tool(&called) {
        return main(args);
    }
    let Some(first) = args.get(1).cloned() else {
        eprintln!("error: name a tool\n\n{}", help());
        return ExitCode::from(2);
    };
    if let Some((name, main)) = tool(&first) {
        // `infra-toolkit park down` runs as `park down`.
        args.remove(0);
        args[0] = OsString::from(name);
        return main(args);
    }
    match first.to_str() {
        Some("-h" | "--help" | "help") => {
            println!("{}", help());
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("{NAME} {}", infra_core::build::VERSION_LINE);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "error: {NAME} has no tool `{}`\n\n{}",
                first.to_string_lossy(),
                help()
            );
            ExitCode::from(2)
        }
    }
}

fn help() -> String {
    let names: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    format!(
        "The infra toolkit's four tools in one binary.\n\n\
         Usage: {NAME} <TOOL> [ARGS]...\n       \
         TOOL [ARGS]...   (through a link named after the tool)\n\n\
         Tools: {}\n\n\
         `{NAME} TOOL --help` shows a tool's own help. Exit codes are the tool's; 2 when no\n\
         tool or an unknown one is named.",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_found_by_its_own_name_only() {
        for (name, _) in TOOLS {
            assert_eq!(tool(OsStr::new(name)).map(|(n, _)| n), Some(name));
        }
        assert!(tool(OsStr::new("infra-toolkit")).is_none());
        assert!(tool(OsStr::new("Park")).is_none());
        assert!(tool(OsStr::new("")).is_none());
    }

    #[test]
    fn no_tool_or_an_unknown_one_is_a_usage_error() {
        assert_eq!(dispatch(vec!["infra-toolkit".into()]), ExitCode::from(2));
        assert_eq!(
            dispatch(vec!["infra-toolkit".into(), "terraform".into()]),
            ExitCode::from(2)
        );
        assert_eq!(
            dispatch(vec!["/opt/x/infra-toolkit".into(), "--help".into()]),
            ExitCode::SUCCESS
        );
    }
}
