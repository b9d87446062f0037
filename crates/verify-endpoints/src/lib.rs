//! `verify-endpoints`: smoke checks of an environment's public endpoints, built for CI.
//!
//! # Brief overview
//!
//! - [`http`]: one request, step by step (DNS, connect, TLS, first byte, body) so each
//!   phase is timed and each failure is classified as transient or not.
//! - [`expect`]: what a healthy answer is: the status, then the body (exact text, a JSON
//!   subset); an HTML page where JSON was expected is a fallback page, not a pass.
//! - [`runner`]: every endpoint in parallel (bounded), each retried on transient failures
//!   only, with backoff, inside one overall deadline.
//! - [`cloudfront`]: the preflight: each distribution deployed, enabled, with the
//!   endpoint's host among its aliases (retried until the run's deadline).
//! - [`redact`]: secrets (query values, URL credentials, request header values) never
//!   reach a report or a log.
//! - [`report`]: a table, JSON (schema `verify-endpoints/run` v1) and JUnit.
//! - [`command`]: the use case as one call ([`command::verify`]) returning the report or a
//!   [`command::VerifyError`], whose one exhaustive `match` gives the exit code.
//!
//! ```
//! use verify_endpoints::expect::json_contains;
//! use serde_json::json;
//! assert!(json_contains(&json!({"status": "ok", "x": 1}), &json!({"status": "ok"})));
//! ```
//!
//! [`cli`] (feature `cli`, on by default) is the `verify-endpoints` command line itself.

#[cfg(feature = "cli")]
pub mod cli;
pub mod cloudfront;
pub mod command;
pub mod expect;
pub mod http;
pub mod redact;
pub mod report;
pub mod runner;
