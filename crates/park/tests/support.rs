//! Shared helpers: a seeded fleet environment, running `park`, and an independent snapshot
//! of the live state read with the SDK directly (not through the code under test).

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use infra_core::Environment;
pub use infra_test_support::Run;
use infra_test_support::{
    command, fleet_environment, lock_table, seed_with, state_bucket, Moto, MotoSession, Proxy,
    SeedOptions,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the fleet's environment is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Terraform's DynamoDB lock table `fleet-locks`.
    DynamoDb,
    /// The S3 lock file in bucket `fleet-state`.
    LockFile,
    /// No backend: park needs `--no-lock`.
    None,
}

pub const LOCK_TABLE: &str = "fleet-locks";
pub const STATE_BUCKET: &str = "fleet-state";
pub const STATE_KEY: &str = "envs/fleet/terraform.tfstate";

pub struct Fleet {
    pub session: MotoSession,
    pub lock_mode: LockMode,
    pub proxy: Proxy,
    pub config: SdkConfig,
    pub env: Environment,
    pub env_file: PathBuf,
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

/// Live state of one service: desired, target (min, max, in, out, sched), record tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Live {
    pub desired: i32,
    pub target: Option<(i32, i32, bool, bool, bool)>,
    pub record: Option<String>,
}

/// Live state of one Aurora cluster: (min, max, pause) and record tag.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDb {
    pub scaling: (f64, f64, Option<i32>),
    pub record: Option<String>,
}

/// Live state of one EventBridge rule: `ENABLED`/`DISABLED` and record tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    pub state: String,
    pub record: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub services: BTreeMap<String, Live>,
    pub aurora: BTreeMap<String, LiveDb>,
    pub rules: BTreeMap<String, LiveRule>,
}

/// The fleet's rule seeded disabled: parking records it `DISABLED`, unparking leaves it so.
pub const DISABLED_RULE: &str = "fleet-rule-01";

pub const IN_ONLY: (bool, bool, bool) = (true, false, false);
pub const OUT_AND_SCHED: (bool, bool, bool) = (false, true, true);

impl Fleet {
    /// A fleet of `services`, seeded, with partial suspensions on svc-01 (scale-in only),
    /// svc-02 (scale-out and scheduled) and svc-03 (all three), when they exist.
    pub fn new(services: usize) -> Fleet {
        Fleet::with(services, SeedOptions::default())
    }

    pub fn with(services: usize, options: SeedOptions) -> Fleet {
        Fleet::locked_with(services, options, LockMode::DynamoDb)
    }

    /// A fleet whose environment is locked as `lock_mode` says: the Terraform root (the
    /// environment file's directory) declares `backend "s3" {}` and `backend.hcl` names
    /// the state and its lock, without endpoints, so park's lock calls go through the
    /// proxy like the others.
    pub fn locked_with(services: usize, options: SeedOptions, lock_mode: LockMode) -> Fleet {
        let session = Moto::session();
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("fleet.env.hcl");
        let mut text = fleet_environment(services);
        if lock_mode != LockMode::None {
            text = text.replacen(
                "  ecs_cluster",
                "  terraform {\n    root           = \".\"\n    backend_config = \"backend.hcl\"\n  }\n\n  ecs_cluster",
                1,
            );
            std::fs::write(
                dir.path().join("main.tf"),
                "terraform {\n  backend \"s3\" {}\n}\n",
            )
            .unwrap();
            let lock = match lock_mode {
                LockMode::DynamoDb => format!("dynamodb_table = \"{LOCK_TABLE}\"\n"),
                _ => "use_lockfile = true\nuse_path_style = true\n".to_owned(),
            };
            std::fs::write(
                dir.path().join("backend.hcl"),
                format!("bucket = \"{STATE_BUCKET}\"\nkey    = \"{STATE_KEY}\"\nregion = \"eu-west-2\"\n{lock}"),
            )
            .unwrap();
        }
        std::fs::write(&env_file, text).unwrap();
        let env = Environment::load(&env_file).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(session.sdk_config());
        let proxy = Proxy::start(session.endpoint());
        let fleet = Fleet {
            session,
            lock_mode,
            proxy,
            config,
            env,
            env_file,
            _dir: dir,
            rt,
        };
        fleet.reseed(&options);
        fleet
    }

    /// Resets the emulator and seeds the fleet again.
    pub fn reseed(&self, options: &SeedOptions) {
        self.session.moto().reset().unwrap();
        self.rt
            .block_on(seed_with(&self.config, &self.env, &[], options))
            .unwrap();
        match self.lock_mode {
            LockMode::DynamoDb => self
                .rt
                .block_on(lock_table(&self.config, LOCK_TABLE))
                .unwrap(),
            LockMode::LockFile => self
                .rt
                .block_on(state_bucket(&self.config, STATE_BUCKET))
                .unwrap(),
            LockMode::None => {}
        }
        if self
            .env
            .eventbridge_rules
            .iter()
            .any(|r| r.name == DISABLED_RULE)
        {
            self.rt
                .block_on(
                    aws_sdk_eventbridge::Client::new(&self.config)
                        .disable_rule()
                        .name(DISABLED_RULE)
                        .send(),
                )
                .unwrap();
        }
        for (name, flags) in [
            ("svc-01", IN_ONLY),
            ("svc-02", OUT_AND_SCHED),
            ("svc-03", (true, true, true)),
        ] {
            if self.env.services().any(|(_, s)| s.name == name) {
                self.set_suspended(name, flags);
            }
        }
        self.proxy.clear();
    }

    pub fn set_suspended(&self, service: &str, (i, o, s): (bool, bool, bool)) {
        let aas = aws_sdk_applicationautoscaling::Client::new(&self.config);
        self.rt
            .block_on(
                aas.register_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(format!("service/fleet/{service}"))
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .suspended_state(
                        SuspendedState::builder()
                            .dynamic_scaling_in_suspended(i)
                            .dynamic_scaling_out_suspended(o)
                            .scheduled_scaling_suspended(s)
                            .build(),
                    )
                    .send(),
            )
            .unwrap();
    }

    pub fn scale(&self, service: &str, desired: i32) {
        let ecs = aws_sdk_ecs::Client::new(&self.config);
        self.rt
            .block_on(
                ecs.update_service()
                    .cluster("fleet")
                    .service(service)
                    .desired_count(desired)
                    .send(),
            )
            .unwrap();
    }

    /// Runs `park ARGS --env-file FILE` through the proxy.
    pub fn park(&self, args: &[&str]) -> Run {
        let child = self.spawn(args);
        child.wait_with_output().unwrap().into()
    }

    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_with(args, &[])
    }

    /// Runs `park ARGS --env-file FILE` through the proxy with extra environment variables.
    pub fn park_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let child = self.spawn_with(args, vars);
        child.wait_with_output().unwrap().into()
    }

    pub fn spawn_with(&self, args: &[&str], vars: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = command(env!("CARGO_BIN_EXE_park"), self.proxy.endpoint());
        cmd.envs(vars.iter().copied());
        cmd.args(args)
            .arg("--env-file")
            .arg(&self.env_file)
            .args(
                ["--poll-interval", "50ms"]
                    .iter()
                    .filter(|_| args.first().is_some_and(|a| *a == "up")),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    }

    /// Mutating calls the proxy saw since the last clear.
    pub fn mutations(&self) -> Vec<String> {
        self.proxy
            .calls()
            .iter()
            .filter(|c| c.is_mutating())
            .map(|c| c.iam_action())
            .collect()
    }

    /// The environment lock, read independently with the state-lock library on the
    /// emulator (not through the proxy).
    pub fn lock(&self) -> state_lock::StateLock {
        let state_lock::Backend::S3(backend) = state_lock::backend::read(&self.env).unwrap() else {
            panic!("the fleet has no s3 backend")
        };
        state_lock::StateLock::new(&self.config, backend)
    }

    /// Who holds the environment lock now.
    pub fn lock_holder(&self) -> Option<state_lock::LockInfo> {
        self.rt.block_on(self.lock().holder()).unwrap()
    }

    /// Deletes service `service` of cluster `fleet` behind park's back (as someone in the
    /// console would).
    pub fn delete_service(&self, service: &str) {
        self.block_on(
            aws_sdk_ecs::Client::new(&self.config)
                .delete_service()
                .cluster("fleet")
                .service(service)
                .force(true)
                .send(),
        )
        .unwrap();
    }

    /// Runs `f` on the fleet's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn snapshot(&self) -> Snapshot {
        self.rt.block_on(snapshot(&self.config, &self.env))
    }
}

pub async fn snapshot(config: &SdkConfig, env: &Environment) -> Snapshot {
    let ecs = aws_sdk_ecs::Client::new(config);
    let aas = aws_sdk_applicationautoscaling::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let mut services = BTreeMap::new();
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    for (cluster, svc) in env.services() {
        let out = ecs
            .describe_services()
            .cluster(&cluster.name)
            .services(&svc.name)
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .unwrap();
        let s = &out.services()[0];
        let target = targets
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == format!("service/{}/{}", cluster.name, svc.name))
            .map(|t| {
                let st = t.suspended_state();
                (
                    t.min_capacity(),
                    t.max_capacity(),
                    st.and_then(|s| s.dynamic_scaling_in_suspended())
                        .unwrap_or(false),
                    st.and_then(|s| s.dynamic_scaling_out_suspended())
                        .unwrap_or(false),
                    st.and_then(|s| s.scheduled_scaling_suspended())
                        .unwrap_or(false),
                )
            });
        let record = s
            .tags()
            .iter()
            .find(|t| t.key() == Some("infra-park:record"))
            .and_then(|t| t.value())
            .map(str::to_owned);
        services.insert(
            svc.name.clone(),
            Live {
                desired: s.desired_count(),
                target,
                record,
            },
        );
    }
    let mut aurora = BTreeMap::new();
    for db in &env.aurora_clusters {
        let out = rds
            .describe_db_clusters()
            .db_cluster_identifier(&db.name)
            .send()
            .await
            .unwrap();
        let c = &out.db_clusters()[0];
        let sc = c.serverless_v2_scaling_configuration().unwrap();
        let record = c
            .tag_list()
            .iter()
            .find(|t| t.key() == Some("infra-park:record"))
            .and_then(|t| t.value())
            .map(str::to_owned);
        aurora.insert(
            db.name.clone(),
            LiveDb {
                scaling: (
                    sc.min_capacity().unwrap(),
                    sc.max_capacity().unwrap(),
                    sc.seconds_until_auto_pause(),
                ),
                record,
            },
        );
    }
    let events = aws_sdk_eventbridge::Client::new(config);
    let mut rules = BTreeMap::new();
    for rule in &env.eventbridge_rules {
        // A rule a test deleted is left out.
        let Ok(out) = events
            .describe_rule()
            .name(&rule.name)
            .event_bus_name(&rule.event_bus)
            .send()
            .await
        else {
            continue;
        };
        let tags = events
            .list_tags_for_resource()
            .resource_arn(out.arn().unwrap())
            .send()
            .await
            .unwrap();
        let record = tags
            .tags()
            .iter()
            .find(|t| t.key() == "infra-park:record")
            .map(|t| t.value().to_owned());
        rules.insert(
            rule.name.clone(),
            LiveRule {
                state: out.state().unwrap().as_str().to_owned(),
                record,
            },
        );
    }
    Snapshot {
        services,
        aurora,
        rules,
    }
}

/// Asserts `after` is the fully parked form of `before`: every parked service at 0 with a
/// 0-0 fully suspended target and a record holding exactly its `before` values; services
/// with `park = false` and `keep` clusters untouched; scale-to-zero clusters at 0 ACU;
/// every rule disabled with a record of its `before` state.
pub fn assert_parked(env: &Environment, before: &Snapshot, after: &Snapshot) {
    for rule in &env.eventbridge_rules {
        let (b, a) = (&before.rules[&rule.name], &after.rules[&rule.name]);
        if !rule.park {
            assert_eq!(a, b, "{} has park = false and must not change", rule.name);
            continue;
        }
        assert_eq!(a.state, "DISABLED", "{}", rule.name);
        let record =
            park::record::RuleRecord::decode(a.record.as_deref().expect("rule record")).unwrap();
        assert_eq!(record.state.as_str(), b.state, "{} record", rule.name);
    }
    for (_, svc) in env.services() {
        let b = &before.services[&svc.name];
        let a = &after.services[&svc.name];
        if !svc.park {
            assert_eq!(a, b, "{} has park = false and must not change", svc.name);
            continue;
        }
        assert_eq!(a.desired, 0, "{}", svc.name);
        assert_eq!(
            a.target,
            b.target.map(|_| (0, 0, true, true, true)),
            "{}",
            svc.name
        );
        let record =
            park::record::ServiceRecord::decode(a.record.as_deref().expect("record tag")).unwrap();
        assert_eq!(record.desired_count, b.desired, "{} record", svc.name);
        let rt = record.target.map(|t| {
            (
                t.min,
                t.max,
                t.suspended.dynamic_in,
                t.suspended.dynamic_out,
                t.suspended.scheduled,
            )
        });
        assert_eq!(rt, b.target, "{} record target", svc.name);
    }
    for db in &env.aurora_clusters {
        let (b, a) = (&before.aurora[&db.name], &after.aurora[&db.name]);
        match db.park {
            infra_core::environment::AuroraParkPolicy::Keep => {
                assert_eq!(a, b, "{} is `keep`", db.name)
            }
            infra_core::environment::AuroraParkPolicy::ScaleToZero => {
                assert_eq!(a.scaling.0, 0.0, "{}", db.name);
                assert_eq!(
                    a.scaling.2,
                    Some(db.auto_pause_seconds as i32),
                    "{}",
                    db.name
                );
                let r =
                    park::record::AuroraRecord::decode(a.record.as_deref().expect("aurora record"))
                        .unwrap();
                assert_eq!(
                    (r.min_capacity, r.max_capacity, r.seconds_until_auto_pause),
                    b.scaling,
                    "{}",
                    db.name
                );
            }
        }
    }
}
