//! Every free-form value of every tool's command line is parsed or refused, never a panic:
//! each tool's clap definition is walked (every option and positional that takes a value,
//! so one added later is covered) and handed arbitrary text.

#[test]
fn every_value_of_every_tool_is_parsed_or_refused() {
    for (tool, command) in [
        ("park", park::cli::command()),
        ("ecr-tags", ecr_tags::cli::command()),
        ("tf-wrap", tf_wrap::cli::command()),
        ("verify-endpoints", verify_endpoints::cli::command()),
        ("run-task", run_task::cli::command()),
    ] {
        let tried = infra_test_support::cli_values::every_value_is_parsed_or_refused(command, 48);
        assert!(tried >= 5, "{tool}: {tried} value arguments found");
    }
}
