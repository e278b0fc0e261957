//! The rate-limit decision on the hot path: one application, and many applications in turn.
//!
//! `cargo bench -p authgate-state --bench rate_decision`

use authgate_state::{MemoryRateLimiter, Quota, RateLimiter};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::num::NonZeroU32;

fn rate_decision(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let limiter = MemoryRateLimiter::new();
    let never_refuses = Quota {
        per_minute: NonZeroU32::new(60_000_000).expect("non-zero"),
        burst: NonZeroU32::new(1_000_000).expect("non-zero"),
    };
    let apps: Vec<String> = (0..10_000).map(|i| format!("app_{i}")).collect();
    let mut group = c.benchmark_group("rate_decision");
    group.bench_function("one_application", |b| {
        b.iter(|| runtime.block_on(limiter.check("default", never_refuses, black_box("app_1"))))
    });
    let mut next = 0;
    group.bench_function("10000_applications", |b| {
        b.iter(|| {
            next = (next + 1) % apps.len();
            runtime.block_on(limiter.check("default", never_refuses, black_box(&apps[next])))
        })
    });
    group.finish();
}

criterion_group!(benches, rate_decision);
criterion_main!(benches);
