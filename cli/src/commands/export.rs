use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use roamguard::features::{self, Replay};

use super::jsonl::{self, EventLines};

/// Export model features for training, computed by the same code that scores online.
///
/// Replays events.jsonl in file order through the profiles and per-subscriber live state and
/// writes one CSV row per event: `label,fraud_type,<features in model order>` with a header line;
/// missing feature values are empty. Events that fail validation are skipped and counted.
/// Labels are Label v1 (`fraud_type` free text); events without a label are legitimate.
/// With --split-at TIME and --validation-out FILE, the rows of events at or after TIME go to
/// the validation file instead (a time split); the live state is still built over all events.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Directory holding profiles.jsonl, events.jsonl and labels.jsonl (as written by `generate`).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Output CSV file (all rows, or those before --split-at).
    #[arg(long, short)]
    out: PathBuf,
    /// Rows of events at or after this time (RFC 3339) go to --validation-out.
    #[arg(long, requires = "validation_out")]
    split_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Output CSV file for the rows at or after --split-at.
    #[arg(long, requires = "split_at")]
    validation_out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut replay = Replay::new(jsonl::read_profiles(&args.data.join("profiles.jsonl"))?);
    let labels = jsonl::read_labels(&args.data.join("labels.jsonl"))?;

    let header: Vec<&str> = ["label", "fraud_type"].into_iter().chain(features::names()).collect();
    let create = |path: &std::path::Path| -> anyhow::Result<BufWriter<File>> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", header.join(","))?;
        Ok(out)
    };
    let mut out = create(&args.out)?;
    let mut validation = args.validation_out.as_deref().map(create).transpose()?;
    let split = args.split_at.map(|t| t.with_timezone(&chrono::Utc));

    let events_path = args.data.join("events.jsonl");
    let (mut rows, mut validation_rows, mut invalid, mut unlabelled) = (0usize, 0usize, 0usize, 0usize);
    let mut line_buf = String::new();
    let mut events = EventLines::open(&events_path)?;
    while let Some(event) = events.next_event(&mut invalid) {
        let event = event?;
        let label = labels.get(&event.event_id);
        unlabelled += usize::from(label.is_none());
        let row = replay.next(&event);
        line_buf.clear();
        line_buf.push_str(if label.is_some_and(|l| l.fraud) { "1," } else { "0," });
        if let Some(t) = label.and_then(|l| l.fraud_type.as_deref()) {
            push_csv_field(t, &mut line_buf);
        }
        line_buf.push(',');
        features::write_csv_row(&row, &mut line_buf);
        line_buf.push('\n');
        match (&mut validation, split) {
            (Some(v), Some(split)) if event.event_time >= split => {
                v.write_all(line_buf.as_bytes())?;
                validation_rows += 1;
            }
            _ => {
                out.write_all(line_buf.as_bytes())?;
                rows += 1;
            }
        }
    }
    out.flush()?;
    eprintln!(
        "exported {rows} feature rows to {} ({invalid} invalid events skipped, {unlabelled} events without a label counted as legitimate)",
        args.out.display()
    );
    if let (Some(mut v), Some(path)) = (validation, &args.validation_out) {
        v.flush()?;
        eprintln!("exported {validation_rows} feature rows at or after the split to {}", path.display());
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (free-text fraud types).
fn push_csv_field(value: &str, out: &mut String) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}
