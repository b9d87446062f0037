//! Integration tests of `tf-wrap`: one binary. `plans` runs the plan parser and the gates on
//! real Terraform/OpenTofu outputs; `terraform` drives the built `tf-wrap` with the real
//! Terraform 1.0.3 against the emulator.

mod comment;
mod plans;
mod terraform;
