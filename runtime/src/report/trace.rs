//! Per-item traces: `<dir>/<sanitised name>.jsonl`, one event of the item's slice of the log
//! per line (every item gets a file, empty when it logged nothing).

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

use super::model::RunReport;
use crate::events::Event;

/// A file name for an item: ASCII letters, digits, `.`, `_` and `-` kept, everything else `_`,
/// no leading `.`, at most 120 bytes.
pub fn sanitise(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    out.truncate(120);
    if out.is_empty() {
        out.push_str("item");
    }
    out
}

/// The trace file name of every result, in order: sanitised and made unique (ignoring case,
/// for case-insensitive file systems) with a `~2`, `~3`, ... suffix.
pub fn file_names(report: &RunReport) -> Vec<String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    report
        .results
        .iter()
        .map(|item| {
            let base = sanitise(&item.name);
            let mut name = base.clone();
            let mut n = 1;
            while !taken.insert(name.to_ascii_lowercase()) {
                n += 1;
                name = format!("{base}~{n}");
            }
            format!("{name}.jsonl")
        })
        .collect()
}

/// Writes one JSONL file per item into `dir` (created if needed). Pass redacted events and a
/// redacted report.
pub fn write(dir: &Path, report: &RunReport, events: &[Event]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (item, file) in report.results.iter().zip(file_names(report)) {
        let mut out = io::BufWriter::new(std::fs::File::create(dir.join(file))?);
        for event in item.events(events) {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(())
}
