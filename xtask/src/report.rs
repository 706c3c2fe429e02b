//! BENCHMARKS.md is one file written by several commands: `xtask bench` writes its head and each
//! other report writes a section between `<!-- bench-NAME:begin -->` and `<!-- bench-NAME:end -->`.

use std::path::Path;

use anyhow::Context;

fn markers(name: &str) -> (String, String) {
    (format!("<!-- bench-{name}:begin -->"), format!("<!-- bench-{name}:end -->"))
}

/// The section NAME, markers included.
pub fn section<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let (begin_marker, end_marker) = markers(name);
    let begin = doc.find(&begin_marker)?;
    let end = doc[begin..].find(&end_marker)? + begin + end_marker.len();
    Some(&doc[begin..end])
}

/// `doc` with section NAME holding `fragment`: replaced where it is, else appended.
pub fn splice(doc: &str, name: &str, fragment: &str) -> String {
    let (begin_marker, end_marker) = markers(name);
    let block = format!("{begin_marker}\n{}\n{end_marker}", fragment.trim());
    match section(doc, name) {
        Some(old) => doc.replacen(old, &block, 1),
        None if doc.trim().is_empty() => format!("# Benchmarks\n\n{block}\n"),
        None => format!("{}\n\n{block}\n", doc.trim_end()),
    }
}

/// Writes `fragment` as section NAME of the file at `path` (created if missing).
pub fn write_section(path: &Path, name: &str, fragment: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    std::fs::write(path, splice(&doc, name, fragment)).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote the {name} section of {}", path.display());
    Ok(())
}

/// CPU, cores, memory and load: timings depend on them.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok())))
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    // Other work on the machine skews timings: record the load when the report was made.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!(
        "{cpu}, {cores} cores, {mem} RAM, {} {}, 1-min load average {load} when the report was written",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A field of /proc/PID/status in kB (VmHWM: peak RSS), 0 when unknown.
pub fn status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Benchmarks\n\nold figures\n\n<!-- bench-aws:begin -->\n## AWS path\n| a | b |\n<!-- bench-aws:end -->\n\ntail\n";

    #[test]
    fn when_a_section_exists_should_find_it_with_its_markers() {
        assert_eq!(
            section(DOC, "aws"),
            Some("<!-- bench-aws:begin -->\n## AWS path\n| a | b |\n<!-- bench-aws:end -->")
        );
        assert_eq!(section(DOC, "serve"), None);
        assert_eq!(section("<!-- bench-aws:begin -->\nunterminated", "aws"), None);
    }

    #[test]
    fn when_splicing_should_replace_in_place_or_append() {
        let replaced = splice(DOC, "aws", "## AWS path\nnew\n");
        assert_eq!(
            replaced,
            "# Benchmarks\n\nold figures\n\n<!-- bench-aws:begin -->\n## AWS path\nnew\n<!-- bench-aws:end -->\n\ntail\n"
        );
        let appended = splice(DOC, "serve", "## serve");
        assert!(appended.starts_with(DOC.trim_end()));
        assert!(appended.ends_with("\n\n<!-- bench-serve:begin -->\n## serve\n<!-- bench-serve:end -->\n"));
        assert_eq!(
            splice("", "chaos", "x"),
            "# Benchmarks\n\n<!-- bench-chaos:begin -->\nx\n<!-- bench-chaos:end -->\n"
        );
    }
}
