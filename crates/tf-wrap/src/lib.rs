//! `tf-wrap`: Run the terraform-prod plan, approve and apply workflow with a verified plan bundle and safety gates.
//!
//! # Brief overview
//!
//! This crate holds the library side of the `tf-wrap` binary. In this release the binary
//! parses the shared options and validates the environment file; the engine itself is the
//! work of the tf-wrap issue: terraform runner, plan bundle, safety gates.
