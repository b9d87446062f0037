//! Integration tests of `verify-endpoints`: the built binary against scripted HTTP servers
//! on 127.0.0.1 (and the emulator for the CloudFront preflight). One binary, one module
//! per concern.

mod support;

mod checks;
mod cloudfront;
mod notify;
mod preflight_waits;
mod request_headers;
mod signals;
mod tls;
