//! The analysts' local verdict table: a SQLite file, one row per event_id.
//!
//! Indexes serve the two questions analysts ask: "what happened to this subscriber, newest
//! first" (imsi, event_time) and "what did we block/review on a given day" (decision, event_time).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use roamguard::ports::{PortError, VerdictQuery, VerdictStore};
use roamguard::verdict::{Decision, Reason, Verdict};
use rusqlite::{Connection, OptionalExtension, params};

const NAME: &str = "verdict table (sqlite)";

pub struct SqliteVerdictStore {
    conn: Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> PortError {
    match e {
        // Another process holds the write lock: worth retrying.
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            PortError::transient(NAME, e.to_string())
        }
        other => PortError::permanent(NAME, other.to_string()),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS verdicts (
    event_id      TEXT PRIMARY KEY,
    imsi          TEXT NOT NULL,
    event_time    TEXT NOT NULL,  -- RFC 3339 UTC, sorts chronologically as text
    decision      TEXT NOT NULL CHECK (decision IN ('ALLOW', 'REVIEW', 'BLOCK')),
    score         REAL NOT NULL,
    reasons       TEXT NOT NULL,  -- JSON array of {feature, value, contribution}
    model_version TEXT NOT NULL,
    degraded      INTEGER NOT NULL,
    scored_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_subscriber ON verdicts (imsi, event_time);
CREATE INDEX IF NOT EXISTS verdicts_by_decision ON verdicts (decision, event_time);
";

const COLUMNS: &str = "event_id, imsi, event_time, decision, score, reasons, model_version, degraded, scored_at";

impl SqliteVerdictStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<SqliteVerdictStore, PortError> {
        let conn = Connection::open(path).map_err(err)?;
        // WAL lets analysts read while a scoring run writes; NORMAL sync is durable enough for a
        // local table and much faster per batch.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;",
        )
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteVerdictStore { conn: Mutex::new(conn) })
    }

    pub fn open_in_memory() -> Result<SqliteVerdictStore, PortError> {
        let conn = Connection::open_in_memory().map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteVerdictStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, PortError> {
        self.conn.lock().map_err(|_| PortError::permanent(NAME, "lock poisoned by an earlier panic"))
    }

    pub fn count(&self) -> Result<u64, PortError> {
        let n: i64 = self.conn()?.query_row("SELECT COUNT(*) FROM verdicts", [], |r| r.get(0)).map_err(err)?;
        Ok(n.max(0) as u64)
    }
}

fn row_to_verdict(r: &rusqlite::Row<'_>) -> rusqlite::Result<Verdict> {
    let text = |i: usize| r.get::<_, String>(i);
    let bad =
        |i: usize, msg: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, msg.into());
    let time = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(&text(i)?)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| bad(i, e.to_string()))
    };
    let decision = Decision::parse(&text(3)?).ok_or_else(|| bad(3, "unknown decision".into()))?;
    let reasons: Vec<Reason> = serde_json::from_str(&text(5)?).map_err(|e| bad(5, e.to_string()))?;
    Ok(Verdict {
        event_id: text(0)?,
        imsi: text(1)?,
        event_time: time(2)?,
        decision,
        score: r.get::<_, f64>(4)? as f32,
        reasons,
        model_version: text(6)?,
        degraded: r.get::<_, i64>(7)? != 0,
        scored_at: time(8)?,
    })
}

fn fmt_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    // Fixed width (always nanoseconds) so text order is time order, and lossless so a stored
    // verdict reads back exactly as it was written.
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[async_trait]
impl VerdictStore for SqliteVerdictStore {
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM verdicts WHERE event_id = ?1")).map_err(err)?;
        let mut out = HashMap::new();
        for &id in event_ids {
            if let Some(v) = stmt.query_row([id], row_to_verdict).optional().map_err(err)? {
                out.insert(id.to_string(), v);
            }
        }
        Ok(out)
    }

    async fn put_if_absent(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(err)?;
        let mut stored = Vec::with_capacity(verdicts.len());
        {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO verdicts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (event_id) DO NOTHING"
                ))
                .map_err(err)?;
            let mut select =
                tx.prepare_cached(&format!("SELECT {COLUMNS} FROM verdicts WHERE event_id = ?1")).map_err(err)?;
            for v in verdicts {
                let reasons =
                    serde_json::to_string(&v.reasons).map_err(|e| PortError::permanent(NAME, e.to_string()))?;
                let inserted = insert
                    .execute(params![
                        v.event_id,
                        v.imsi,
                        fmt_time(&v.event_time),
                        v.decision.as_str(),
                        f64::from(v.score),
                        reasons,
                        v.model_version,
                        i64::from(v.degraded),
                        fmt_time(&v.scored_at),
                    ])
                    .map_err(err)?;
                if inserted == 1 {
                    stored.push(v.clone());
                } else {
                    stored.push(select.query_row([&v.event_id], row_to_verdict).map_err(err)?);
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(stored)
    }

    async fn query(&self, q: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        let conn = self.conn()?;
        let mut sql = format!("SELECT {COLUMNS} FROM verdicts WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(imsi) = &q.imsi {
            args.push(imsi.clone());
            sql.push_str(&format!(" AND imsi = ?{}", args.len()));
        }
        if let Some(d) = q.decision {
            args.push(d.as_str().to_string());
            sql.push_str(&format!(" AND decision = ?{}", args.len()));
        }
        if let Some(since) = &q.since {
            args.push(fmt_time(since));
            sql.push_str(&format!(" AND event_time >= ?{}", args.len()));
        }
        if let Some(until) = &q.until {
            args.push(fmt_time(until));
            sql.push_str(&format!(" AND event_time < ?{}", args.len()));
        }
        if let Some((t, id)) = &q.before {
            args.push(fmt_time(t));
            args.push(id.clone());
            let (a, b) = (args.len() - 1, args.len());
            sql.push_str(&format!(" AND (event_time < ?{a} OR (event_time = ?{a} AND event_id < ?{b}))"));
        }
        sql.push_str(&format!(" ORDER BY event_time DESC, event_id DESC LIMIT {}", q.limit));
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_verdict).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn verdict(id: &str, imsi: &str, hour: u32, decision: Decision) -> Verdict {
        Verdict {
            event_id: id.into(),
            imsi: imsi.into(),
            event_time: Utc.with_ymd_and_hms(2026, 6, 1, hour, 0, 0).unwrap(),
            decision,
            score: 0.5,
            reasons: vec![Reason { feature: "duration_s".into(), value: None, contribution: 0.25 }],
            model_version: "m1".into(),
            degraded: false,
            scored_at: Utc.with_ymd_and_hms(2026, 6, 1, 23, 0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn when_same_event_is_written_twice_should_keep_first_verdict() {
        let store = SqliteVerdictStore::open_in_memory().unwrap();
        let first = verdict("e1", "208010000000001", 1, Decision::Block);
        let mut second = first.clone();
        second.decision = Decision::Allow;
        assert_eq!(store.put_if_absent(std::slice::from_ref(&first)).await.unwrap(), vec![first.clone()]);
        assert_eq!(store.put_if_absent(&[second]).await.unwrap(), vec![first.clone()]);
        assert_eq!(store.count().unwrap(), 1);
        assert_eq!(store.get_many(&["e1", "nope"]).await.unwrap().get("e1"), Some(&first));
    }

    #[tokio::test]
    async fn when_querying_should_filter_and_sort_newest_first() {
        let store = SqliteVerdictStore::open_in_memory().unwrap();
        let a = "208010000000001";
        store
            .put_if_absent(&[
                verdict("e1", a, 1, Decision::Allow),
                verdict("e2", a, 2, Decision::Block),
                verdict("e3", "208010000000002", 3, Decision::Block),
                verdict("e4", a, 4, Decision::Review),
            ])
            .await
            .unwrap();
        let ids = |v: Vec<Verdict>| v.into_iter().map(|v| v.event_id).collect::<Vec<_>>();
        let q = VerdictQuery { imsi: Some(a.into()), limit: 10, ..Default::default() };
        assert_eq!(ids(store.query(&q).await.unwrap()), ["e4", "e2", "e1"]);
        let q = VerdictQuery { decision: Some(Decision::Block), limit: 10, ..Default::default() };
        assert_eq!(ids(store.query(&q).await.unwrap()), ["e3", "e2"]);
        let q = VerdictQuery {
            since: Some(Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap()),
            until: Some(Utc.with_ymd_and_hms(2026, 6, 1, 4, 0, 0).unwrap()),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(ids(store.query(&q).await.unwrap()), ["e3"]);
        // Paging: the cursor is the last verdict of the previous page.
        let first_page = store.query(&VerdictQuery { limit: 2, ..Default::default() }).await.unwrap();
        let last = first_page.last().unwrap();
        let q =
            VerdictQuery { limit: 10, before: Some((last.event_time, last.event_id.clone())), ..Default::default() };
        assert_eq!(ids(first_page.clone()), ["e4", "e3"]);
        assert_eq!(ids(store.query(&q).await.unwrap()), ["e2", "e1"]);
    }
}
