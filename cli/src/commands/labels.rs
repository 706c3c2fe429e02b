use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use roamguard_local::sqlite::SqliteVerdictStore;

/// Export analysts' labels from the verdict table as Label v1 lines.
///
/// Analysts label verdicts with POST /v1/verdicts/{event_id}/label (`roamguard serve --db`);
/// the label is kept on the verdict's row, the last one posted winning. This writes one line
/// per labelled verdict, ordered by event_id:
///   {"event_id": "...", "fraud": true, "fraud_type": "irsf"}
/// (fraud_type omitted when the analyst gave none; note and analyst stay in the table). The
/// file is what `roamguard calibrate --labels` and `make train DATA=dir` read.
///
/// Examples:
///   roamguard labels --db verdicts.db --out labels.jsonl
///   roamguard calibrate --profiles p.jsonl --events e.jsonl --labels labels.jsonl --out thresholds.json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Verdict table (SQLite file written by `score`, `demo` or `serve --db`).
    #[arg(long)]
    db: PathBuf,
    /// Where to write the labels (JSON Lines, Label v1); `-` for stdout.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.db.exists(), "{}: no such verdict table", args.db.display());
    let store = SqliteVerdictStore::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let labelled = store.labelled().with_context(|| format!("reading labels from {}", args.db.display()))?;
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
