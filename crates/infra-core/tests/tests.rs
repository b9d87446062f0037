//! Integration tests of `infra-core`: one binary, one module per area.

mod account_guard;
mod envfile;
