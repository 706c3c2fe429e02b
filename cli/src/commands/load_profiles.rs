use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use roamguard_aws::{DynamoDbClient, load_profiles, sdk_config};

use super::jsonl::read_profiles;

/// Bulk-load subscriber profiles into the DynamoDB profiles table (build with `--features aws`).
///
/// Reads a JSON Lines file of SubscriberProfile v1 and writes it with BatchWriteItem (25 items a
/// call, unprocessed items retried with backoff). Credentials and region come from the standard
/// AWS chain (environment, profile, role); --endpoint-url points at an emulator such as moto.
/// Loading replaces profiles only: live states are in their own table (STATES_TABLE) and stay.
/// (On a stack from before the state table, a profile item still holds its state until the
/// first event migrates it: load profiles there before scoring starts.)
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// DynamoDB table name.
    #[arg(long)]
    table: String,
    /// Profiles to load (JSON Lines).
    #[arg(long)]
    file: PathBuf,
    /// Endpoint override (e.g. http://127.0.0.1:5000 for moto).
    #[arg(long)]
    endpoint_url: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let profiles = read_profiles(&args.file)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let total = profiles.len();
    let terminal = std::io::stderr().is_terminal();
    let mut last_reported = 0usize;
    let written = runtime.block_on(async {
        let config = sdk_config(args.endpoint_url.as_deref()).await;
        let client = DynamoDbClient::new(&config);
        load_profiles(&client, &args.table, &profiles, |done| {
            // On a terminal: a live counter; in logs: a line every 10 %.
            if terminal {
                eprint!("\r  loading profiles: {done}/{total}");
            } else if done * 10 / total.max(1) > last_reported * 10 / total.max(1) {
                eprintln!("  loaded {done}/{total} profiles");
                last_reported = done;
            }
        })
        .await
    });
    if terminal {
        eprintln!();
    }
    let written = written.with_context(|| format!("loading profiles into table {}", args.table))?;
    eprintln!("loaded {written} profiles into {}", args.table);
    Ok(())
}
