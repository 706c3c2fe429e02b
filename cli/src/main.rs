//! `roamguard`: the local command-line tool. Each subcommand lives in `commands/`; this file only
//! parses arguments and dispatches.

mod commands;

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "roamguard",
    version,
    about = "Real-time fraud scoring for international roaming: generate traffic, train, score",
    long_about = "RoamGuard scores roaming usage events (calls, SMS, data sessions of subscribers abroad) \
for fraud: IRSF, SIM-box, Wangiri, data abuse, cloned SIMs and device swaps.\n\n\
Everything here runs locally on embedded defaults: no AWS account needed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Demo(commands::demo::Args),
    Score(commands::score::Args),
    Verdicts(commands::verdicts::Args),
    Serve(commands::serve::Args),
    Generate(commands::generate::Args),
    ExportFeatures(commands::export::Args),
    Predict(commands::predict::Args),
    Calibrate(commands::calibrate::Args),
    Evaluate(commands::evaluate::Args),
    Drift(commands::drift::Args),
    Compare(commands::compare::Args),
    Rules(commands::rules::Args),
    Labels(commands::labels::Args),
    #[cfg(feature = "aws")]
    LoadProfiles(commands::load_profiles::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Score(args) => commands::score::run(args),
        Command::Verdicts(args) => commands::verdicts::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::ExportFeatures(args) => commands::export::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Calibrate(args) => commands::calibrate::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Drift(args) => commands::drift::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Rules(args) => commands::rules::run(args),
        Command::Labels(args) => commands::labels::run(args),
        #[cfg(feature = "aws")]
        Command::LoadProfiles(args) => commands::load_profiles::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
