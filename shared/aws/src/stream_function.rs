//! What the stream-triggered functions (score-stream on Kinesis, score-kafka on Kafka) build
//! once per execution environment and do around every batch: the pipeline with its rules,
//! challenger and drift window; the rules re-check before a batch; the metrics and the log line
//! after it. Their `main.rs` files add only the event type and the handler.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use roamguard::drift::DriftWindow;
use roamguard::pipeline::{BatchReport, Pipeline};

use crate::rules::RulesReloader;
use crate::{Decisions, StreamConfig, sdk_config, stream_pipeline};

/// The features the drift alarm watches: the ten the model leans on most.
const TOP_FEATURES: usize = 10;

pub struct StreamFunction {
    /// `AWS_LAMBDA_FUNCTION_NAME`: the metrics' `Function` dimension.
    pub name: String,
    pub pipeline: Pipeline,
    rules: Option<RulesReloader>,
    top_features: Vec<String>,
}

impl StreamFunction {
    /// Everything before the first invocation; an error here fails the init.
    pub async fn start(name: &str) -> Result<StreamFunction, Box<dyn std::error::Error + Send + Sync>> {
        let config = StreamConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
        let s = &config.scoring;
        // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
        let sdk = sdk_config(None).await;
        let decisions = Decisions::start(&sdk, s, config.rules.as_ref(), name).await?;
        let mut pipeline =
            stream_pipeline(&sdk, &config.resources, &s.scorer, decisions.model.clone()).with_mode(s.mode);
        if let Some(rules) = decisions.active_rules() {
            pipeline = pipeline.with_rules(rules);
        }
        if let Some(challenger) = decisions.challenger.clone() {
            pipeline = pipeline.with_challenger(challenger);
        }
        if config.drift_window > 0 {
            let window = DriftWindow::new(decisions.model.baselines(), config.drift_window);
            pipeline = pipeline.with_drift(Arc::new(Mutex::new(window)));
        }
        let top_features = decisions.model.top_features(TOP_FEATURES).into_iter().map(str::to_string).collect();
        tracing::info!(
            function = name,
            model_version = decisions.model.version(),
            scorer = ?s.scorer,
            mode = ?s.mode,
            rules_version = decisions.rules_version(),
            challenger_version = decisions.challenger_version(),
            drift_window = config.drift_window,
            "ready"
        );
        Ok(StreamFunction { name: name.to_string(), pipeline, rules: decisions.rules, top_features })
    }

    /// Before a batch: the rules file is re-checked once the interval (RULES_RELOAD_SECONDS) has
    /// passed, here rather than by a background task on a timer: Lambda freezes the execution
    /// environment between invocations, so a timer task would not run on time and could be
    /// frozen halfway through its request. At the start of an invocation the environment is
    /// running, and this very batch uses the new set. The price is one conditional GET (a 304
    /// while nothing changed) on one invocation a minute.
    pub async fn before_batch(&self) {
        if let Some(rules) = &self.rules
            && let Some(report) = rules.check(Instant::now()).await
        {
            println!("{}", report.emf(&self.name, chrono::Utc::now().timestamp_millis()));
        }
    }

    /// After a batch: its EMF line, one per drift window it filled, and the summary log line.
    pub fn after_batch(&self, report: &BatchReport) {
        let now = chrono::Utc::now().timestamp_millis();
        println!("{}", roamguard::metrics::emf(&self.name, report, now));
        for drift in &report.drift {
            println!("{}", roamguard::metrics::drift_emf(&self.name, drift, &self.top_features, now));
        }
        tracing::info!(summary = %roamguard::metrics::summary(report), "batch scored");
    }
}
