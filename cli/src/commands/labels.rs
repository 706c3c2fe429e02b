use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use roamguard::labels::StoredLabel;
use roamguard_local::sqlite::SqliteVerdictStore;

/// Export analysts' labels from the verdict table as Label v1 lines.
///
/// Analysts label verdicts with POST /v1/verdicts/{event_id}/label (`roamguard serve --db`);
/// the label is kept on the verdict's row, the last one posted winning. This writes one line
/// per labelled verdict, ordered by event_id:
///   {"event_id": "...", "fraud": true, "fraud_type": "irsf"}
/// (fraud_type omitted when the analyst gave none; note and analyst stay in the table). The
/// file is what `roamguard calibrate --labels` and `make train DATA=dir` read.
/// With the `aws` feature, --table exports from the DynamoDB verdict table instead (a Scan of
/// the table: it reads every item once; credentials and region from the standard AWS chain).
///
/// Examples:
///   roamguard labels --db verdicts.db --out labels.jsonl
///   roamguard labels --table roamguard-verdicts --out labels.jsonl    (build with --features aws)
///   roamguard calibrate --profiles p.jsonl --events e.jsonl --labels labels.jsonl --out thresholds.json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Verdict table (SQLite file written by `score`, `demo` or `serve --db`).
    #[cfg_attr(feature = "aws", arg(long, required_unless_present = "table"))]
    #[cfg_attr(not(feature = "aws"), arg(long, required = true))]
    db: Option<PathBuf>,
    /// DynamoDB verdict table (the stack's VerdictsTable) instead of --db.
    #[cfg(feature = "aws")]
    #[arg(long, conflicts_with = "db")]
    table: Option<String>,
    /// Endpoint override for --table (e.g. http://127.0.0.1:5000 for moto).
    #[cfg(feature = "aws")]
    #[arg(long, requires = "table")]
    endpoint_url: Option<String>,
    /// Where to write the labels (JSON Lines, Label v1); `-` for stdout.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let labelled = read_labels(&args)?;
    let to_stdout = args.out.as_os_str() == "-";
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        let file = std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        Box::new(file)
    };
    let mut out = BufWriter::new(sink);
    let mut fraud = 0usize;
    for (event_id, stored) in &labelled {
        let label = stored.to_label(event_id);
        fraud += usize::from(label.fraud);
        serde_json::to_writer(&mut out, &label)?;
        out.write_all(b"\n")?;
    }
    out.flush().with_context(|| format!("writing {}", args.out.display()))?;
    let target = if to_stdout { "stdout".to_string() } else { args.out.display().to_string() };
    eprintln!("wrote {} labels to {target} ({fraud} fraud, {} legitimate)", labelled.len(), labelled.len() - fraud);
    Ok(())
}

fn read_labels(args: &Args) -> anyhow::Result<Vec<(String, StoredLabel)>> {
    #[cfg(feature = "aws")]
    if let Some(table) = &args.table {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        return runtime.block_on(async {
            let config = roamguard_aws::sdk_config(args.endpoint_url.as_deref()).await;
            let store = roamguard_aws::DynamoVerdictStore::new(&config, table.as_str());
            store.labelled().await.with_context(|| format!("reading labels from table {table}"))
        });
    }
    let db = args.db.as_ref().context("--db (or --table in a build with --features aws) names the verdict table")?;
    anyhow::ensure!(db.exists(), "{}: no such verdict table", db.display());
    let store = SqliteVerdictStore::open(db).with_context(|| format!("opening {}", db.display()))?;
    store.labelled().with_context(|| format!("reading labels from {}", db.display()))
}
