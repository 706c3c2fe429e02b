use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use roamguard::labels::StoredLabel;
use roamguard::ports::{Labelled, VerdictQuery, VerdictStore};
use roamguard::verdict::{Decision, Verdict};
use roamguard_local::sqlite::SqliteVerdictStore;

/// Read the verdict table: what a fraud analyst uses to review decisions.
///
/// Lists verdicts newest first (by event time), filtered by subscriber, decision and time.
/// Times are RFC 3339 (2026-06-01T12:00:00Z) or a date (2026-06-01 = its midnight UTC);
/// --since is inclusive, --until exclusive. An analyst's label (posted on the API) follows the
/// reasons; it is `label` in JSON, as the API shows it, and label_fraud, label_fraud_type in CSV.
///
/// Examples:
///   roamguard verdicts --db verdicts.db --decision BLOCK --limit 20
///   roamguard verdicts --db verdicts.db --imsi 208011234567890 --since 2026-06-01 --format json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Verdict table (SQLite file written by `score` or `demo`).
    #[arg(long)]
    db: PathBuf,
    /// Only this subscriber.
    #[arg(long)]
    imsi: Option<String>,
    /// Only this decision: ALLOW, REVIEW or BLOCK.
    #[arg(long, value_parser = parse_decision)]
    decision: Option<Decision>,
    /// Events at or after this time.
    #[arg(long, value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Events before this time.
    #[arg(long, value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// At most this many verdicts.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn parse_decision(text: &str) -> Result<Decision, String> {
    Decision::parse(text).ok_or_else(|| format!("{text:?} is not ALLOW, REVIEW or BLOCK"))
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is neither RFC 3339 (2026-06-01T12:00:00Z) nor a date (2026-06-01)"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.db.exists() {
        bail!("{} does not exist; create it with `roamguard score --db ...` or `roamguard demo`", args.db.display());
    }
    let store = SqliteVerdictStore::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let query = VerdictQuery {
        imsi: args.imsi,
        decision: args.decision,
        since: args.since,
        until: args.until,
        before: None,
        limit: args.limit,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let listed = runtime.block_on(store.query_labelled(&query))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            for labelled in &listed {
                serde_json::to_writer(&mut out, labelled)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "event_time,event_id,imsi,decision,score,reasons,model_version,degraded,scored_at,label_fraud,label_fraud_type"
            )?;
            for Labelled { verdict: v, label } in &listed {
                writeln!(
                    out,
                    "{},{},{},{},{:.6},{},{},{},{},{},{}",
                    roamguard::events::rfc3339::format(&v.event_time),
                    csv_field(&v.event_id),
                    v.imsi,
                    v.decision.as_str(),
                    v.score,
                    csv_field(&reasons_text(v)),
                    csv_field(&v.model_version),
                    v.degraded,
                    roamguard::events::rfc3339::format(&v.scored_at),
                    label.as_ref().map(|l| l.fraud.to_string()).unwrap_or_default(),
                    csv_field(label.as_ref().and_then(|l| l.fraud_type.as_deref()).unwrap_or_default()),
                )?;
            }
        }
        Format::Table => {
            // Column as wide as the longest id shown, so rows line up whatever the producer's ids.
            let id_width = listed.iter().map(|l| l.verdict.event_id.chars().count()).max().unwrap_or(0).max(8);
            writeln!(
                out,
                "{:<20}  {:<id_width$}  {:<15}  {:<8}  {:>6}  reasons",
                "event_time", "event_id", "imsi", "decision", "score"
            )?;
            for Labelled { verdict: v, label } in &listed {
                writeln!(
                    out,
                    "{:<20}  {:<id_width$}  {:<15}  {:<8}  {:>6.3}  {}{}{}",
                    roamguard::events::rfc3339::format(&v.event_time),
                    v.event_id,
                    v.imsi,
                    v.decision.as_str(),
                    v.score,
                    reasons_text(v),
                    if v.degraded { "  [degraded]" } else { "" },
                    label.as_ref().map(label_text).unwrap_or_default(),
                )?;
            }
            if listed.is_empty() {
                writeln!(out, "(no verdicts match)")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// An analyst's label, after the reasons: `  [label: fraud irsf]` or `  [label: legitimate]`.
/// The fraud type is free text: control characters are escaped so a row stays one line.
fn label_text(label: &StoredLabel) -> String {
    match (label.fraud, &label.fraud_type) {
        (true, Some(kind)) => format!("  [label: fraud {}]", without_control_characters(kind)),
        (true, None) => "  [label: fraud]".to_string(),
        (false, _) => "  [label: legitimate]".to_string(),
    }
}

fn without_control_characters(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn reasons_text(v: &Verdict) -> String {
    v.reasons
        .iter()
        .map(|r| match r.value {
            Some(x) => format!("{}={} (+{:.2})", r.feature, trim_float(x), r.contribution),
            None => format!("{}=missing (+{:.2})", r.feature, r.contribution),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn trim_float(x: f32) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 { format!("{x:.0}") } else { format!("{x:.2}") }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}
