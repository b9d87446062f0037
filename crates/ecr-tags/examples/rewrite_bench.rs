//! Times the byte-exact rewrite alone (find the pin, splice, re-parse and verify) on a
//! Terraform file: `cargo run --release --example rewrite_bench -- main.tf`. Used by
//! `scripts/bench`; prints the median of 50 runs.

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use std::time::Instant;
use tf_locals::{find_pin, rewrite_pin};

fn main() {
    let path = std::env::args().nth(1).expect("usage: rewrite_bench FILE");
    let text = std::fs::read_to_string(&path).expect("readable file");
    let mut times = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let pin = find_pin(&text, "prefect_deployer_image").expect("pin");
        let out = rewrite_pin(&text, &pin, "prefect-deployer-3-python3.12-0123456", None)
            .expect("rewrite");
        times.push(start.elapsed());
        assert_eq!(
            out.len(),
            text.len() - pin.tag.len() + "prefect-deployer-3-python3.12-0123456".len()
        );
    }
    times.sort();
    println!("{:.2} ms", times[times.len() / 2].as_secs_f64() * 1000.0);
}
