//! Free-form command-line values never panic a tool: every option and positional argument
//! of a tool's clap command that takes a value is handed arbitrary text (any Unicode,
//! control characters, numbers with odd units, times with odd zones, huge numbers) and
//! must be either accepted or refused with clap's usage error naming it; nothing panics.
//! Each tool's `cli` unit tests call [`every_value_is_parsed_or_refused`] with its own
//! command, so an option added later is covered without a new test.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Text a user, a CI variable or a copied command line may hand a flag.
pub fn free_form() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        // Durations, counts and sizes with odd units and signs.
        "[-+]?[0-9]{0,25}(\\.[0-9]{0,5})?[ ]?(ns|us|ms|s|m|h|d|w|y|min|days|€|µs|)?",
        // Times, dates and offsets.
        "[0-9]{0,5}[-:T ]?[0-9]{0,3}[-:]?[0-9€]{0,6}(Z| UTC|[+-][0-9]{0,2}:?[0-9]{0,3})?",
        // OWNER/REPO#N, HOST:PORT:ADDR, URLs, paths.
        "[a-z0-9./:#@_\\[\\]-]{0,40}",
        Just(String::new()),
        Just(" ".to_owned()),
        Just("\u{feff}1h".to_owned()),
        Just("18446744073709551616s".to_owned()),
        // Parses, but overflows a clock it is added to (CI found this one by chance).
        Just("2600000000000000h".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
    ]
}

/// Every argument of `cmd` and its subcommands that takes a value: the subcommand path
/// and the argument (`Some("--deadline")`, or `None` for a positional).
pub fn value_arguments(cmd: &clap::Command) -> Vec<(Vec<String>, Option<String>)> {
    fn walk(
        cmd: &clap::Command,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Option<String>)>,
    ) {
        for arg in cmd.get_arguments() {
            if !arg.get_action().takes_values() {
                continue;
            }
            match arg.get_long() {
                Some(long) => out.push((path.clone(), Some(format!("--{long}")))),
                None if arg.is_positional() => out.push((path.clone(), None)),
                None => {}
            }
        }
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_owned());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(cmd, &mut Vec::new(), &mut out);
    out
}

/// Parses `NAME PATH... ARG VALUE` with `cmd` for `cases` arbitrary values of every value
/// argument: no panic; a refused value is clap's usage error (exit 2), never anything else.
/// Returns how many arguments were tried (so a test can tell it covered something).
pub fn every_value_is_parsed_or_refused(cmd: clap::Command, cases: u32) -> usize {
    let name = cmd.get_name().to_owned();
    let arguments = value_arguments(&cmd);
    for (path, flag) in &arguments {
        runner(cases)
            .run(&free_form(), |value| {
                let mut args = vec![name.clone()];
                args.extend(path.iter().cloned());
                let value = match flag {
                    Some(flag) => {
                        args.push(flag.clone());
                        value
                    }
                    // A positional that starts with `-` would be read as a flag.
                    None => value.trim_start_matches('-').to_owned(),
                };
                args.push(value.clone());
                // A panic fails the case: proptest's runner catches it and reports the
                // value that caused it.
                if let Err(e) = cmd.clone().try_get_matches_from(&args) {
                    prop_assert_eq!(e.exit_code(), 2, "{:?}: {}", args, e);
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name} {path:?} {flag:?}: {e}"));
    }
    arguments.len()
}

/// Runs `parse` on `cases` arbitrary values: it must never panic (what it returns is the
/// caller's to check). For the values a tool parses after clap (`park hold --until`,
/// `tf-wrap comment --pr`, `CIRCLE_PULL_REQUEST`).
pub fn never_panics<T>(cases: u32, parse: impl Fn(&str) -> T) {
    runner(cases)
        .run(&free_form(), |value| {
            // A panic fails the case (proptest's runner catches it, naming the value).
            parse(&value);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A runner of `cases` cases that writes no regression file (the failing value is in the
/// panic message).
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}
