//! `xtask`: RoamGuard's reports. Each subcommand runs a measurement the way users run the code and
//! writes its part of BENCHMARKS.md with the command that produced it:
//!
//! - `bench` (`make bench`): the embedded pipeline, the CLI's start-up, criterion's results;
//! - `bench-aws` (`make bench-aws`, feature `aws`): AWS calls, round trips and cold start against moto;
//! - `splice NAME FRAGMENT` (`make bench-serve`, `make chaos`): a section written by another tool.

#[cfg(feature = "aws")]
mod aws;
mod pipeline;
mod report;

// The allocator of the binaries it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Run RoamGuard's measurements and write their sections of BENCHMARKS.md")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the embedded pipeline, the CLI and a Python per-record handler on steady-state
    /// subscribers; rewrite BENCHMARKS.md, keeping the other sections.
    Bench(pipeline::ReportArgs),
    /// One pipeline run over a prepared workload (`bench` runs these in child processes);
    /// prints a JSON line.
    #[command(hide = true)]
    BenchPipeline(pipeline::RunArgs),
    /// AWS calls, request units, handler CPU and cold start of score-stream against moto.
    #[cfg(feature = "aws")]
    BenchAws(aws::Args),
    /// Put FRAGMENT (a Markdown file) into OUT between `<!-- bench-NAME:begin -->` and
    /// `<!-- bench-NAME:end -->`, replacing the previous section or appending it.
    Splice {
        name: String,
        fragment: PathBuf,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => pipeline::report(&args),
        Command::BenchPipeline(args) => {
            let r = pipeline::run_pipeline(&args)?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
        #[cfg(feature = "aws")]
        Command::BenchAws(args) => aws::run(&args),
        Command::Splice { name, fragment, out } => {
            let text = std::fs::read_to_string(&fragment)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", fragment.display()))?;
            report::write_section(&out, &name, &text)
        }
    }
}
