//! Integration tests of `park`: one binary, driving the built `park` executable against the
//! emulator as CI does, with a recording proxy in between where calls must be counted.

mod support;

mod crash;
mod faults;
mod fleet;
mod holds;
mod iam;
mod lock;
mod multi;
mod notify;
mod rules;
mod savings;
mod schedule;
mod wait;
