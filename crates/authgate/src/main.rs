//! The `authgate` binary: command-line parsing and wiring only. Every command reads the same
//! configuration and opens the same store; the work itself lives in the library crates.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;
mod telemetry;

use clap::Parser;
use std::process::ExitCode;

// The proxy allocates small, short-lived buffers on every request; mimalloc's per-thread free
// lists serve that pattern markedly faster than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // No transparent huge pages: mimalloc is built not to ask for them (`no_thp`), and this
    // opts out where the kernel gives them unasked. A 2 MiB page is resident once one byte of
    // it is used, so each worker thread's partly used pages cost whole huge pages: with 100,000
    // cached keys, 207 MiB resident at 8 workers and 162 at 2; without huge pages 146 and 138,
    // at the same CPU per request (BENCHMARKS.md). Best effort: where the kernel refuses, only
    // the footprint is larger.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let args = cli::Args::parse();
    let output = args.output;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("authgate: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => code,
        Err(error) => {
            output::error(output, &format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}
