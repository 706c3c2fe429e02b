//! The analysts' local verdict table: a SQLite file, one row per event_id.
//!
//! Indexes serve the two questions analysts ask: "what happened to this subscriber, newest
//! first" (imsi, event_time) and "what did we block/review on a given day" (decision, event_time).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, SyncSender};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use roamguard::labels::StoredLabel;
use roamguard::ports::{Labelled, PortError, VerdictQuery, VerdictStore};
use roamguard::verdict::{ChallengerOpinion, Decision, Reason, Verdict};
use rusqlite::{Connection, TransactionBehavior, params};

const NAME: &str = "verdict table (sqlite)";

pub struct SqliteVerdictStore {
    // Declared first, so it stops before the writer's connection closes: that one is then the
    // last connection, and on closing checkpoints what is left and removes the WAL.
    checkpointer: OnceLock<Option<Checkpointer>>,
    conn: Mutex<Connection>,
    /// The file (None in memory), for the checkpointer's connection.
    path: Option<PathBuf>,
}

/// Copies committed pages from the WAL into the database file, on a thread and a connection of
/// its own, so that a batch does not wait for a checkpoint's copying and fsyncs. A PASSIVE
/// checkpoint takes no lock a writer or a reader needs. Woken after each commit, it runs at
/// most once per [`CHECKPOINT_INTERVAL`], over whatever was committed meanwhile. Started by the
/// first write (a reader of the table has none).
struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, PortError> {
        let conn = Connection::open(path).map_err(err)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut pending = false;
                loop {
                    if !pending && woken.recv().is_err() {
                        return;
                    }
                    pending = false;
                    // Best effort: what a pass leaves (frames committed meanwhile, frames a
                    // reader still needs) is copied by the next one or by the writer's own
                    // automatic checkpoint.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    let until = Instant::now() + CHECKPOINT_INTERVAL;
                    loop {
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match woken.recv_timeout(left) {
                            Ok(()) => pending = true,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            })
            .map_err(|e| PortError::permanent(NAME, format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer { wake: Some(wake), thread: Some(thread) })
    }

    /// After a commit. A full channel means a wake-up is pending already, covering this one.
    fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
    decision      TEXT NOT NULL CHECK (decision = 'ALLOW' OR decision = 'REVIEW' OR decision = 'BLOCK'),
    score         REAL NOT NULL,
    reasons       TEXT NOT NULL,  -- JSON array of {feature, value, contribution}
    model_version TEXT NOT NULL,
    degraded      INTEGER NOT NULL,
    scored_at     TEXT NOT NULL,
    enforced      INTEGER NOT NULL DEFAULT 1,  -- 0 in shadow mode
    decided_by    TEXT NOT NULL DEFAULT 'model',  -- or 'rule:<id>'
    rules_matched TEXT,  -- JSON array of rule ids; NULL when none matched
    rules_version TEXT,  -- NULL without rules
    -- The challenger model's opinion (all NULL without a challenger).
    challenger_model_version TEXT,
    challenger_score         REAL,
    challenger_decision      TEXT,
    -- The analyst's label, the last one posted (all NULL while unlabelled).
    label_fraud      INTEGER,
    label_fraud_type TEXT,
    label_note       TEXT,
    label_analyst    TEXT,
    labelled_at      TEXT  -- RFC 3339 UTC, as event_time
);
CREATE INDEX IF NOT EXISTS verdicts_by_subscriber ON verdicts (imsi, event_time);
CREATE INDEX IF NOT EXISTS verdicts_by_decision ON verdicts (decision, event_time);
";

const COLUMNS: &str = "event_id, imsi, event_time, decision, score, reasons, model_version, degraded, scored_at, \
     enforced, decided_by, rules_matched, rules_version, challenger_model_version, challenger_score, \
     challenger_decision";

/// The label columns, after [`COLUMNS`] (indexes 16–20 of a row).
const LABEL_COLUMNS: &str = "label_fraud, label_fraud_type, label_note, label_analyst, labelled_at";

/// Columns added after the first version, with how to add them to an older table.
const ADDED_COLUMNS: [(&str, &str); 12] = [
    ("enforced", "enforced INTEGER NOT NULL DEFAULT 1"),
    ("decided_by", "decided_by TEXT NOT NULL DEFAULT 'model'"),
    ("rules_matched", "rules_matched TEXT"),
    ("rules_version", "rules_version TEXT"),
    ("label_fraud", "label_fraud INTEGER"),
    ("label_fraud_type", "label_fraud_type TEXT"),
    ("label_note", "label_note TEXT"),
    ("label_analyst", "label_analyst TEXT"),
    ("labelled_at", "labelled_at TEXT"),
    ("challenger_model_version", "challenger_model_version TEXT"),
    ("challenger_score", "challenger_score REAL"),
    ("challenger_decision", "challenger_decision TEXT"),
];

/// Creates the table, or brings a table of an earlier version up to date (columns added since
/// get their default: verdicts from before shadow mode were enforced).
fn create_or_migrate(conn: &Connection) -> Result<(), PortError> {
    conn.execute_batch(SCHEMA).map_err(err)?;
    for (name, definition) in ADDED_COLUMNS {
        let present: bool = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('verdicts') WHERE name = ?1", [name], |r| r.get(0))
            .map_err(err)?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE verdicts ADD COLUMN {definition};")).map_err(err)?;
        }
    }
    Ok(())
}

/// WAL pages before the writer checkpoints by itself (SQLite's default is 1,000). A commit
/// writes every page it changed to the WAL, and a batch changes about two pages per verdict:
/// its inserts into the event_id and the (imsi, event_time) indexes land on random pages. With
/// the default, a batch of 500 filled the WAL, and the commit then copied ~1,000 random pages
/// into the file with two fsyncs: every batch. The [`Checkpointer`] does that copying off the
/// writer's thread; but as batches keep committing while it copies, the WAL is rarely
/// copied to its end, which it must be to start again from its beginning. The writer's own
/// checkpoint at this mark (128 MiB of 4 KiB pages) copies what is left and lets it restart.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 32_768;

/// Ids per lookup statement (SQLite allows 32,766 variables). A shorter last chunk repeats its
/// last id, so one cached statement serves every call.
const LOOKUP_CHUNK: usize = 256;

impl SqliteVerdictStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<SqliteVerdictStore, PortError> {
        let conn = Connection::open(path).map_err(err)?;
        // WAL lets analysts read while a scoring run writes; NORMAL sync is durable enough for a
        // local table (a crash of the machine may lose the last commits, never corrupts) and
        // much faster per batch. The lookups' IN lists are sorted in memory, never in a file.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;
             PRAGMA temp_store = MEMORY;
             PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
        ))
        .map_err(err)?;
        create_or_migrate(&conn)?;
        Ok(SqliteVerdictStore { checkpointer: OnceLock::new(), conn: Mutex::new(conn), path: Some(path.to_path_buf()) })
    }

    pub fn open_in_memory() -> Result<SqliteVerdictStore, PortError> {
        let conn = Connection::open_in_memory().map_err(err)?;
        conn.execute_batch("PRAGMA temp_store = MEMORY;").map_err(err)?;
        create_or_migrate(&conn)?;
        Ok(SqliteVerdictStore { checkpointer: OnceLock::new(), conn: Mutex::new(conn), path: None })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, PortError> {
        self.conn.lock().map_err(|_| PortError::permanent(NAME, "lock poisoned by an earlier panic"))
    }

    /// Without a checkpointer (it could not start), the writer's automatic checkpoint does all
    /// the copying, as it did before there was one.
    fn wake_checkpointer(&self) {
        let Some(path) = &self.path else { return };
        if let Some(c) = self.checkpointer.get_or_init(|| Checkpointer::start(path).ok()) {
            c.wake();
        }
    }

    pub fn count(&self) -> Result<u64, PortError> {
        let n: i64 = self.conn()?.query_row("SELECT COUNT(*) FROM verdicts", [], |r| r.get(0)).map_err(err)?;
        Ok(n.max(0) as u64)
    }

    /// Every labelled verdict's label with its event_id, ordered by event_id (the export behind
    /// `roamguard labels`). A row holds only the last label posted, so each event appears once.
    pub fn labelled(&self) -> Result<Vec<(String, StoredLabel)>, PortError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS}, {LABEL_COLUMNS} FROM verdicts WHERE label_fraud IS NOT NULL ORDER BY event_id"
            ))
            .map_err(err)?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row_to_label(row)?))).map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            if let (id, Some(label)) = row.map_err(err)? {
                out.push((id, label));
            }
        }
        Ok(out)
    }

    /// Every verdict that carries a challenger's opinion, with its label, in event_id order,
    /// one row at a time (what `roamguard compare` reads; a table can hold millions).
    pub fn for_each_challenged(&self, mut f: impl FnMut(Verdict, Option<StoredLabel>)) -> Result<u64, PortError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS}, {LABEL_COLUMNS} FROM verdicts WHERE challenger_score IS NOT NULL ORDER BY event_id"
            ))
            .map_err(err)?;
        let rows = stmt.query_map([], |row| Ok((row_to_verdict(row)?, row_to_label(row)?))).map_err(err)?;
        let mut n = 0;
        for row in rows {
            let (verdict, label) = row.map_err(err)?;
            f(verdict, label);
            n += 1;
        }
        Ok(n)
    }
}

/// The stored verdicts of `ids` (absent ids are missing from the map), one statement per
/// [`LOOKUP_CHUNK`] ids. Sorted ids probe the index in order.
fn lookup(conn: &Connection, ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
    lookup_rows(conn, ids, COLUMNS, |row| row_to_verdict(row).map(|v| (v.event_id.clone(), v)))
}

/// [`lookup`] with the labels.
fn lookup_labelled(conn: &Connection, ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
    lookup_rows(conn, ids, &format!("{COLUMNS}, {LABEL_COLUMNS}"), |row| {
        let verdict = row_to_verdict(row)?;
        let label = row_to_label(row)?;
        Ok((verdict.event_id.clone(), Labelled { verdict, label }))
    })
}

fn lookup_rows<T>(
    conn: &Connection,
    ids: &[&str],
    columns: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(String, T)>,
) -> Result<HashMap<String, T>, PortError> {
    let mut out = HashMap::new();
    let Some(&last) = ids.last() else { return Ok(out) };
    let placeholders = vec!["?"; LOOKUP_CHUNK].join(", ");
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {columns} FROM verdicts WHERE event_id IN ({placeholders})"))
        .map_err(err)?;
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        // Repeating an id in an IN list matches its row once.
        let padded = chunk.iter().copied().chain(std::iter::repeat(last)).take(LOOKUP_CHUNK);
        let mut rows = stmt.query(rusqlite::params_from_iter(padded)).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let (id, value) = read(row).map_err(err)?;
            out.insert(id, value);
        }
    }
    Ok(out)
}

/// The label columns of a row read with [`LABEL_COLUMNS`] after [`COLUMNS`]; None while unlabelled.
fn row_to_label(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<StoredLabel>> {
    let Some(fraud) = r.get::<_, Option<i64>>(16)? else { return Ok(None) };
    let at: String = r.get(20)?;
    let labelled_at =
        chrono::DateTime::parse_from_rfc3339(&at).map(|t| t.with_timezone(&chrono::Utc)).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(17, rusqlite::types::Type::Text, e.to_string().into())
        })?;
    Ok(Some(StoredLabel {
        fraud: fraud != 0,
        fraud_type: r.get(17)?,
        note: r.get(18)?,
        analyst: r.get(19)?,
        labelled_at,
    }))
}

/// The matched rule ids as a JSON array, NULL when none matched.
fn rules_matched(ids: &[String]) -> Result<Option<String>, PortError> {
    if ids.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(ids).map(Some).map_err(|e| PortError::permanent(NAME, e.to_string()))
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
        enforced: r.get::<_, i64>(9)? != 0,
        decided_by: text(10)?,
        rules_matched: match r.get::<_, Option<String>>(11)? {
            Some(ids) => serde_json::from_str(&ids).map_err(|e| bad(11, e.to_string()))?,
            None => Vec::new(),
        },
        rules_version: r.get(12)?,
        challenger: match (
            r.get::<_, Option<String>>(13)?,
            r.get::<_, Option<f64>>(14)?,
            r.get::<_, Option<String>>(15)?,
        ) {
            (Some(model_version), Some(score), Some(decision)) => Some(ChallengerOpinion {
                model_version,
                score: score as f32,
                decision: Decision::parse(&decision).ok_or_else(|| bad(15, "unknown decision".into()))?,
            }),
            _ => None,
        },
    })
}

/// RFC 3339 UTC, always with nanoseconds (`2026-06-01T00:00:00.000000000Z`): fixed width, so text
/// order is time order, and lossless, so a stored verdict reads back exactly as it was written.
/// The same text as chrono's `to_rfc3339_opts(Nanos, true)` (tested), written directly for years
/// 0000-9999 (every valid event) and by chrono otherwise.
fn fmt_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
        // Outside the fixed width, or a leap second: chrono's own text.
        return t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    }
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, t.year() as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 9, nanos);
    String::from_utf8_lossy(&b).into_owned()
}

/// The reasons column: a JSON array (what the schemas and `roamguard verdicts` read), written
/// into a buffer reused across a batch; most verdicts (ALLOW) have none.
fn encode_reasons<'b>(reasons: &[Reason], buf: &'b mut Vec<u8>) -> Result<&'b str, PortError> {
    buf.clear();
    if reasons.is_empty() {
        buf.extend_from_slice(b"[]");
    } else {
        serde_json::to_writer(&mut *buf, reasons).map_err(|e| PortError::permanent(NAME, e.to_string()))?;
    }
    std::str::from_utf8(buf).map_err(|e| PortError::permanent(NAME, e.to_string()))
}

/// The verdicts a query asks for, newest first, each read from `columns` by `read`.
fn select<T>(
    conn: &Connection,
    q: &VerdictQuery,
    columns: &str,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, PortError> {
    let mut sql = format!("SELECT {columns} FROM verdicts WHERE 1 = 1");
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
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), read).map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

#[async_trait]
impl VerdictStore for SqliteVerdictStore {
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let conn = self.conn()?;
        lookup(&conn, event_ids)
    }

    /// One transaction: every verdict is inserted unless its event_id is stored (first writer
    /// wins); only the rows whose insert did nothing are read back.
    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut conflicts = Vec::new();
        {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO verdicts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                     ON CONFLICT (event_id) DO NOTHING"
                ))
                .map_err(err)?;
            let mut reasons = Vec::with_capacity(256);
            for (i, v) in verdicts.iter().enumerate() {
                let inserted = insert
                    .execute(params![
                        v.event_id,
                        v.imsi,
                        fmt_time(&v.event_time),
                        v.decision.as_str(),
                        f64::from(v.score),
                        encode_reasons(&v.reasons, &mut reasons)?,
                        v.model_version,
                        i64::from(v.degraded),
                        fmt_time(&v.scored_at),
                        i64::from(v.enforced),
                        v.decided_by,
                        rules_matched(&v.rules_matched)?,
                        v.rules_version,
                        v.challenger.as_ref().map(|c| c.model_version.as_str()),
                        v.challenger.as_ref().map(|c| f64::from(c.score)),
                        v.challenger.as_ref().map(|c| c.decision.as_str()),
                    ])
                    .map_err(err)?;
                if inserted == 0 {
                    conflicts.push(i);
                }
            }
        }
        let ids: Vec<&str> = conflicts.iter().map(|&i| verdicts[i].event_id.as_str()).collect();
        let existing = lookup(&tx, &ids)?;
        tx.commit().map_err(err)?;
        self.wake_checkpointer();
        let mut stored = verdicts.to_vec();
        for i in conflicts {
            stored[i] = existing.get(&stored[i].event_id).cloned().ok_or_else(|| {
                PortError::permanent(NAME, format!("no row for {} after a conflict", stored[i].event_id))
            })?;
        }
        Ok(stored)
    }

    async fn query(&self, q: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        let conn = self.conn()?;
        select(&conn, q, COLUMNS, row_to_verdict)
    }

    async fn query_labelled(&self, q: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        let conn = self.conn()?;
        select(&conn, q, &format!("{COLUMNS}, {LABEL_COLUMNS}"), |row| {
            Ok(Labelled { verdict: row_to_verdict(row)?, label: row_to_label(row)? })
        })
    }

    /// One UPDATE of the verdict's row: every label column is replaced (the last label wins);
    /// no row, nothing written.
    async fn put_label(&self, event_id: &str, label: &StoredLabel) -> Result<bool, PortError> {
        let changed = {
            let conn = self.conn()?;
            let mut update = conn
                .prepare_cached(
                    "UPDATE verdicts SET label_fraud = ?2, label_fraud_type = ?3, label_note = ?4, \
                     label_analyst = ?5, labelled_at = ?6 WHERE event_id = ?1",
                )
                .map_err(err)?;
            update
                .execute(params![
                    event_id,
                    i64::from(label.fraud),
                    label.fraud_type,
                    label.note,
                    label.analyst,
                    fmt_time(&label.labelled_at),
                ])
                .map_err(err)?
        };
        if changed > 0 {
            self.wake_checkpointer();
        }
        Ok(changed > 0)
    }

    async fn get_labelled(&self, event_ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
        let conn = self.conn()?;
        lookup_labelled(&conn, event_ids)
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
            enforced: true,
            scored_at: Utc.with_ymd_and_hms(2026, 6, 1, 23, 0, 0).unwrap(),
            decided_by: "model".into(),
            rules_matched: vec![],
            rules_version: None,
            challenger: None,
        }
    }

    #[tokio::test]
    async fn when_same_event_is_written_twice_should_keep_first_verdict() {
        let store = SqliteVerdictStore::open_in_memory().unwrap();
        let first = verdict("e1", "208010000000001", 1, Decision::Block);
        let mut second = first.clone();
        second.decision = Decision::Allow;
        assert_eq!(store.put(std::slice::from_ref(&first)).await.unwrap(), vec![first.clone()]);
        assert_eq!(store.put(&[second]).await.unwrap(), vec![first.clone()]);
        assert_eq!(store.count().unwrap(), 1);
        assert_eq!(store.get_many(&["e1", "nope"]).await.unwrap().get("e1"), Some(&first));
    }

    #[tokio::test]
    async fn when_querying_should_filter_and_sort_newest_first() {
        let store = SqliteVerdictStore::open_in_memory().unwrap();
        let a = "208010000000001";
        store
            .put(&[
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

    #[test]
    fn when_formatting_times_should_write_what_chrono_writes() {
        use chrono::NaiveDate;
        let mut times = Vec::new();
        for (y, mo, d) in
            [(0, 1, 1), (1, 2, 3), (999, 12, 31), (1970, 1, 1), (2024, 2, 29), (2026, 6, 1), (9999, 12, 31)]
        {
            for (h, mi, sec) in [(0, 0, 0), (9, 5, 7), (23, 59, 59)] {
                for nanos in [0, 1, 1_000, 123_456_789, 999_999_999] {
                    times.push(NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_nano_opt(h, mi, sec, nanos).unwrap());
                }
            }
        }
        // Outside the fixed width, and a leap second: chrono's own text.
        times.push(NaiveDate::from_ymd_opt(-1, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        times.push(NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        times.push(NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap());
        for t in times.into_iter().map(|t| t.and_utc()) {
            assert_eq!(fmt_time(&t), t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        }
    }

    #[tokio::test]
    async fn when_a_table_predates_labels_should_add_the_label_columns_and_keep_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE verdicts (event_id TEXT PRIMARY KEY, imsi TEXT NOT NULL, event_time TEXT NOT NULL,
                decision TEXT NOT NULL, score REAL NOT NULL, reasons TEXT NOT NULL, model_version TEXT NOT NULL,
                degraded INTEGER NOT NULL, scored_at TEXT NOT NULL);
             INSERT INTO verdicts VALUES ('old', '208010000000001', '2026-06-01T00:00:00.000000000Z', 'ALLOW', 0.1,
                '[]', 'm0', 0, '2026-06-01T00:00:01.000000000Z');",
        )
        .unwrap();
        create_or_migrate(&conn).unwrap();
        let store = SqliteVerdictStore { checkpointer: OnceLock::new(), conn: Mutex::new(conn), path: None };
        let got = store.get_labelled(&["old"]).await.unwrap();
        assert_eq!(got["old"].label, None);
        let label = StoredLabel {
            fraud: false,
            fraud_type: None,
            note: Some("checked".into()),
            analyst: None,
            labelled_at: Utc.with_ymd_and_hms(2026, 6, 3, 0, 0, 0).unwrap(),
        };
        assert!(store.put_label("old", &label).await.unwrap());
        assert_eq!(store.get_labelled(&["old"]).await.unwrap()["old"].label, Some(label));
    }

    #[tokio::test]
    async fn when_storing_reasons_should_keep_a_json_array_column() {
        let store = SqliteVerdictStore::open_in_memory().unwrap();
        let mut none = verdict("e1", "208010000000001", 1, Decision::Allow);
        none.reasons.clear();
        let mut three = verdict("e2", "208010000000001", 2, Decision::Block);
        three.reasons = vec![
            Reason { feature: "calls_to_premium_1h".into(), value: Some(12.0), contribution: 1.75 },
            Reason { feature: "distance_km \"quoted\"".into(), value: None, contribution: -0.125 },
            Reason { feature: "duration_s".into(), value: Some(1e-7), contribution: 3.4e38 },
        ];
        store.put(&[none.clone(), three.clone()]).await.unwrap();
        let raw: Vec<String> = {
            let conn = store.conn().unwrap();
            let mut stmt = conn.prepare("SELECT reasons FROM verdicts ORDER BY event_id").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(raw[0], "[]");
        assert_eq!(raw[1], serde_json::to_string(&three.reasons).unwrap());
        let got = store.get_many(&["e1", "e2"]).await.unwrap();
        assert_eq!((got["e1"].clone(), got["e2"].clone()), (none, three));
    }
}
