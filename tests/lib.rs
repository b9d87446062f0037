//! Helpers for the workspace end-to-end tests live in `infra-test-support`.
