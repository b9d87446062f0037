//! The CircleCI config (`examples/circleci/config.yml`) checked and run, by subject: its
//! shape, the gating of pipelines, the terraform-prod and drift jobs, parking and the
//! schedules, the image bumps. The three flows the toolkit is used by run their jobs' `run`
//! steps exactly as written, against the emulator, the real Terraform 1.0.3 and local
//! stand-ins; how is the harness' CircleCI evaluation (`crate::circleci`).

mod config;
mod gating;
mod images;
mod park;
mod terraform;
