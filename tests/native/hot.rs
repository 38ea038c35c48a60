// SPDX-License-Identifier: MIT
// A Rust workload for test_native.py: two functions in a module, hot in
// turn, whose (legacy-mangled) names must come out demangled.
use std::time::{Duration, Instant};

mod engine {
    #[inline(never)]
    pub fn churn(n: u64) -> u64 {
        let mut x = 0u64;
        for i in 0..n {
            x = x.wrapping_add(std::hint::black_box(i).wrapping_mul(i));
        }
        x
    }

    #[inline(never)]
    pub fn stir(n: u64) -> u64 {
        let mut x = 1u64;
        for i in 0..n {
            x ^= std::hint::black_box(i).rotate_left(7);
        }
        x
    }
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sink = 0u64;
    while Instant::now() < end {
        sink = sink.wrapping_add(engine::churn(300000));
        sink = sink.wrapping_add(engine::stir(300000));
    }
    std::hint::black_box(sink);
}
