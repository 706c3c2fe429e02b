use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use roamguard::model::XgbModel;

/// Score CSV feature rows with an XGBoost model, like the SageMaker XGBoost endpoint.
///
/// Reads rows from stdin: no header, one row per line, feature columns in the model's order
/// (models/metadata.json lists them), empty field = missing. Prints one fraud probability per
/// line on stdout — the same `text/csv` contract as SageMaker's built-in XGBoost container.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// XGBoost model file: JSON (e.g. models/model.json) or UBJSON (a name ending in .ubj).
    #[arg(long)]
    model: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let is_ubj = args.model.extension().is_some_and(|e| e.eq_ignore_ascii_case("ubj"));
    let model = if is_ubj { XgbModel::from_ubj_slice(&bytes) } else { XgbModel::from_json_slice(&bytes) }
        .with_context(|| format!("loading {}", args.model.display()))?;
    let n = model.num_features();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut row = vec![0f32; n];
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut count = 0;
        for (j, field) in line.split(',').enumerate() {
            if j >= n {
                count = j + 1;
                break;
            }
            let field = field.trim();
            row[j] = if field.is_empty() {
                f32::NAN
            } else {
                match field.parse::<f32>() {
                    Ok(v) => v,
                    Err(_) => bail!("line {}: column {} is not a number: {field:?}", i + 1, j + 1),
                }
            };
            count = j + 1;
        }
        if count != n {
            bail!("line {}: expected {n} columns, got {}", i + 1, line.split(',').count());
        }
        writeln!(out, "{}", model.predict_proba(&row))?;
    }
    out.flush()?;
    Ok(())
}
