//! What every module uses: an environment file of endpoints and the built binary.

pub use infra_test_support::{command, Answer, HttpStub, Run};
pub use std::time::Duration;

/// An environment file with the given endpoints: (name, url, expectation lines).
pub fn env_file(dir: &tempfile::TempDir, endpoints: &[(&str, String, &str)]) -> std::path::PathBuf {
    let mut text = String::from(
        "environment \"t\" {\n  account_id = \"123456789012\"\n  region     = \"eu-west-2\"\n",
    );
    for (name, url, extra) in endpoints {
        text.push_str(&format!(
            "  endpoint \"{name}\" {{\n    url = \"{url}\"\n    {extra}\n  }}\n"
        ));
    }
    text.push_str("}\n");
    let path = dir.path().join("env.hcl");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn verify(env: &std::path::Path, args: &[&str]) -> Run {
    // No AWS call is made; the endpoint is a closed port so a stray one would fail.
    let mut cmd = command(env!("CARGO_BIN_EXE_verify-endpoints"), "http://127.0.0.1:9");
    cmd.arg("--env-file")
        .arg(env)
        .args(args)
        .output()
        .unwrap()
        .into()
}

pub const OK_JSON: &str = "expect_json = { status = \"ok\" }";
