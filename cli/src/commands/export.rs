use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use roamguard::events::RoamingEvent;
use roamguard::features::{self, Replay};
use roamguard::profile::SubscriberProfile;
use roamguard_sim::Label;

/// Export model features for training, computed by the same code that scores online.
///
/// Replays events.jsonl in file order through the profiles and per-subscriber live state and
/// writes one CSV row per event: `label,fraud_type,<features in model order>` with a header line;
/// missing feature values are empty. Events that fail validation are skipped and counted.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Directory holding profiles.jsonl, events.jsonl and labels.jsonl (as written by `generate`).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Output CSV file.
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let profiles_path = args.data.join("profiles.jsonl");
    let text =
        std::fs::read_to_string(&profiles_path).with_context(|| format!("reading {}", profiles_path.display()))?;
    let profiles = SubscriberProfile::read_jsonl(&text).with_context(|| profiles_path.display().to_string())?;
    let mut replay = Replay::new(profiles);

    let labels_path = args.data.join("labels.jsonl");
    let mut labels: HashMap<String, Label> = HashMap::new();
    for (i, line) in open_lines(&labels_path)?.enumerate() {
        let line = line?;
        let label: Label =
            serde_json::from_str(&line).with_context(|| format!("{} line {}", labels_path.display(), i + 1))?;
        labels.insert(label.event_id.clone(), label);
    }

    let out = File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(out);
    let header: Vec<&str> = ["label", "fraud_type"].into_iter().chain(features::names()).collect();
    writeln!(out, "{}", header.join(","))?;

    let events_path = args.data.join("events.jsonl");
    let (mut rows, mut invalid) = (0usize, 0usize);
    let mut line_buf = String::new();
    for line in open_lines(&events_path)? {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(event) = RoamingEvent::from_json(line.as_bytes()) else {
            invalid += 1;
            continue;
        };
        let Some(label) = labels.get(&event.event_id) else {
            bail!("event {} has no label in {}", event.event_id, labels_path.display());
        };
        let row = replay.next(&event);
        line_buf.clear();
        line_buf.push_str(if label.fraud { "1," } else { "0," });
        if let Some(t) = label.fraud_type {
            line_buf.push_str(t.as_str());
        }
        line_buf.push(',');
        features::write_csv_row(&row, &mut line_buf);
        line_buf.push('\n');
        out.write_all(line_buf.as_bytes())?;
        rows += 1;
    }
    out.flush()?;
    eprintln!("exported {rows} feature rows to {} ({invalid} invalid events skipped)", args.out.display());
    Ok(())
}

fn open_lines(path: &std::path::Path) -> anyhow::Result<std::io::Lines<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::new(file).lines())
}
