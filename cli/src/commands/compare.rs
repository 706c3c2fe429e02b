use std::path::PathBuf;

use anyhow::Context;
use roamguard::compare::Comparison;
use roamguard::verdict::Decision;
use roamguard_local::sqlite::SqliteVerdictStore;
use serde_json::json;

/// Compare the challenger model with the champion on the verdicts that carry its opinion.
///
/// Verdicts scored with --challenger-model-dir (or CHALLENGER_MODEL_URI in the Lambdas) record
/// what the challenger would have decided. This reports, over those verdicts: agreement overall
/// and per decision, the decision-by-decision table (verdict's decision × challenger's), how
/// each did on the events analysts labelled (frauds flagged, legitimate events blocked), and
/// the events where the two differ most (decisions furthest apart, then scores). Verdicts a
/// rule decided count with the rule's decision (their number is shown).
///
/// Examples:
///   roamguard score --profiles p.jsonl --events e.jsonl --db verdicts.db --challenger-model-dir models/next
///   roamguard compare --db verdicts.db
///   roamguard compare --db verdicts.db --top 50 --format json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Verdict table (SQLite file written by `score`, `demo` or `serve --db`).
    #[arg(long)]
    db: PathBuf,
    /// How many of the events where the two differ most to list (decisions furthest apart, then
    /// the widest score gap).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// `table` (for people) or `json` (for scripts).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.db.exists(), "{}: no such verdict table", args.db.display());
    let store = SqliteVerdictStore::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let mut comparison = Comparison::new(args.top);
    store
        .for_each_challenged(|verdict, label| comparison.add(&verdict, label.as_ref()))
        .with_context(|| format!("reading verdicts from {}", args.db.display()))?;
    anyhow::ensure!(
        comparison.verdicts > 0,
        "{}: no verdict carries a challenger's opinion (score with --challenger-model-dir DIR first)",
        args.db.display()
    );
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&to_json(&comparison))?);
    } else {
        print_table(&comparison);
    }
    Ok(())
}

fn versions(set: &std::collections::BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn to_json(c: &Comparison) -> serde_json::Value {
    let by_decision: Vec<_> = c
        .by_decision
        .iter()
        .map(|((champion, challenger), n)| json!({"decision": champion, "challenger_decision": challenger, "verdicts": n}))
        .collect();
    let per_decision: Vec<_> = Decision::ALL
        .into_iter()
        .map(|d| {
            let (all, same) = c.agreement_on(d);
            json!({"decision": d, "verdicts": all, "challenger_agrees": same})
        })
        .collect();
    json!({
        "verdicts": c.verdicts,
        "model_versions": c.champion_versions,
        "challenger_model_versions": c.challenger_versions,
        "agreement": c.agreement(),
        "agreement_by_decision": per_decision,
        "by_decision": by_decision,
        "decided_by_rule": c.decided_by_rule,
        "labelled": c.labelled,
        "largest_differences": c.largest_differences(),
    })
}

fn print_table(c: &Comparison) {
    println!(
        "{} verdicts with a challenger: model {} against challenger {}",
        c.verdicts,
        versions(&c.champion_versions),
        versions(&c.challenger_versions)
    );
    println!("agreement {:.2} %  ({} decided by a rule)", 100.0 * c.agreement(), c.decided_by_rule);
    println!();
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "verdict", "verdicts", "ch. ALLOW", "ch. REVIEW", "ch. BLOCK", "agree"
    );
    for d in Decision::ALL {
        let (all, same) = c.agreement_on(d);
        let cell = |other: Decision| c.by_decision.get(&(d, other)).copied().unwrap_or(0);
        let agree = if all == 0 { "-".to_string() } else { format!("{:.1} %", 100.0 * same as f64 / all as f64) };
        println!(
            "{:<10} {:>10} {:>10} {:>10} {:>10} {:>8}",
            d.as_str(),
            all,
            cell(Decision::Allow),
            cell(Decision::Review),
            cell(Decision::Block),
            agree
        );
    }
    let l = &c.labelled;
    if l.fraud + l.legitimate > 0 {
        println!();
        println!("on labelled events ({} fraud, {} legitimate):", l.fraud, l.legitimate);
        println!(
            "  fraud flagged       model {:>6}   challenger {:>6}",
            l.champion_fraud_flagged, l.challenger_fraud_flagged
        );
        println!(
            "  legitimate blocked  model {:>6}   challenger {:>6}",
            l.champion_legitimate_blocked, l.challenger_legitimate_blocked
        );
    }
    let largest = c.largest_differences();
    if !largest.is_empty() {
        println!();
        println!("where they differ most (decisions furthest apart, then widest score gap):");
        println!("{:<36} {:<20} {:>7} {:<7} {:>7} {:<7}", "event_id", "event_time", "score", "", "ch.", "");
        for d in largest {
            println!(
                "{:<36} {:<20} {:>7.4} {:<7} {:>7.4} {:<7}",
                d.event_id,
                d.event_time,
                d.score,
                d.decision.as_str(),
                d.challenger_score,
                d.challenger_decision.as_str()
            );
        }
    }
}
