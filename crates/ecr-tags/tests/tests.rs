//! Integration tests of `ecr-tags`: the built binary against the emulator.

mod support;

mod bump;
mod commit;
mod digest;
mod discovery;
mod live;
mod live_digests;
