//! Helpers: repositories and images in the emulator, a working copy of the reference
//! environment, and running the binary.

use aws_sdk_ecr::types::{
    ImageTagMutability, ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
};
use infra_test_support::seed::{manifest_for, reference_images, sleep_to_next_second};
pub use infra_test_support::Run;
use infra_test_support::{command, reference_env_file, seed_with, Moto, MotoSession, SeedOptions};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Ecr {
    pub session: MotoSession,
    pub client: aws_sdk_ecr::Client,
    pub rt: tokio::runtime::Runtime,
}

impl Ecr {
    pub fn new() -> Ecr {
        let session = Moto::session();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = aws_sdk_ecr::Client::new(&rt.block_on(session.sdk_config()));
        Ecr {
            session,
            client,
            rt,
        }
    }

    pub fn repository(&self, name: &str, mutability: ImageTagMutability, filters: &[&str]) {
        let mut req = self
            .client
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(mutability);
        for f in filters {
            req = req.image_tag_mutability_exclusion_filters(
                ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                    .filter(*f)
                    .build()
                    .unwrap(),
            );
        }
        self.rt.block_on(req.send()).unwrap();
    }

    /// Pushes one image with `tags` (the first tag creates it, the others are added to the
    /// same manifest, as `docker push` of a second tag does). No tag: an untagged image.
    pub fn push(&self, repository: &str, manifest_key: &str, tags: &[&str]) {
        let manifest = manifest_for(manifest_key);
        if tags.is_empty() {
            self.rt
                .block_on(
                    self.client
                        .put_image()
                        .repository_name(repository)
                        .image_manifest(manifest)
                        .send(),
                )
                .unwrap();
            return;
        }
        for tag in tags {
            self.rt
                .block_on(
                    self.client
                        .put_image()
                        .repository_name(repository)
                        .image_manifest(&manifest)
                        .image_tag(*tag)
                        .send(),
                )
                .unwrap();
        }
    }

    /// Pushes many single-tag images concurrently (push times may tie: whole seconds).
    pub fn push_many(&self, repository: &str, tags: Vec<String>) {
        let client = Arc::new(self.client.clone());
        self.rt.block_on(async {
            let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
            let mut set = tokio::task::JoinSet::new();
            for tag in tags {
                let (client, semaphore, repository) = (
                    Arc::clone(&client),
                    Arc::clone(&semaphore),
                    repository.to_owned(),
                );
                set.spawn(async move {
                    let _p = semaphore.acquire_owned().await;
                    client
                        .put_image()
                        .repository_name(repository)
                        .image_manifest(manifest_for(&tag))
                        .image_tag(tag)
                        .send()
                        .await
                        .unwrap();
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        });
    }

    pub fn next_second(&self) {
        self.rt.block_on(sleep_to_next_second());
    }

    /// Runs `ecr-tags ARGS` (with `--env-file FILE` when given).
    pub fn run(&self, env_file: Option<&PathBuf>, args: &[&str]) -> Run {
        self.run_via(self.session.endpoint(), env_file, args)
    }

    /// Like [`Ecr::run`], through another endpoint (a recording proxy).
    pub fn run_via(&self, endpoint: &str, env_file: Option<&PathBuf>, args: &[&str]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_ecr-tags"), endpoint);
        if let Some(file) = env_file {
            cmd.arg("--env-file").arg(file);
        }
        cmd.args(args).output().unwrap().into()
    }
}

/// A copy of `examples/prod` in a temporary directory, seeded: the base image and three
/// deployer builds pushed in distinct seconds; `main.tf` pins the middle one.
pub struct WorkingCopy {
    _dir: tempfile::TempDir,
    pub env_file: PathBuf,
    pub main_tf: PathBuf,
}

impl WorkingCopy {
    pub fn seeded(ecr: &Ecr) -> WorkingCopy {
        let dir = tempfile::tempdir().unwrap();
        let src = reference_env_file();
        let src_dir = src.parent().unwrap();
        for name in ["prod.env.hcl", "main.tf", "backend.hcl"] {
            std::fs::copy(src_dir.join(name), dir.path().join(name)).unwrap();
        }
        let env_file = dir.path().join("prod.env.hcl");
        let env = infra_core::Environment::load(&env_file).unwrap();
        let config = ecr.rt.block_on(ecr.session.sdk_config());
        let options = SeedOptions {
            distinct_push_times: true,
            ..Default::default()
        };
        ecr.rt
            .block_on(seed_with(&config, &env, &reference_images(), &options))
            .unwrap();
        let main_tf = dir.path().join("main.tf");
        WorkingCopy {
            _dir: dir,
            env_file,
            main_tf,
        }
    }
}
