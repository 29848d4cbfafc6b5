//! Writing the outputs: each through a temporary file and a rename.

use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::{bar_chart, markdown, BenchError, Metric, Record, Report};

/// Writes `bytes` to `path` through `path.tmp` and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BenchError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("rename into", path))
}

/// Writes `bench.json`, `BENCH.md` and one `<metric>.svg` per measured
/// metric into `dir`; returns the paths written.
pub fn write_outputs(dir: &Path, report: &Report) -> Result<Vec<PathBuf>, BenchError> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let mut written = Vec::new();
    let json = dir.join("bench.json");
    write_atomic(
        &json,
        serde_json::to_string_pretty(&report.records)?.as_bytes(),
    )?;
    written.push(json);
    let md = dir.join("BENCH.md");
    write_atomic(&md, markdown(report).as_bytes())?;
    written.push(md);
    for metric in Metric::ALL {
        let rows: Vec<&Record> = report
            .records
            .iter()
            .filter(|r| r.metric == metric.as_str())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let path = dir.join(format!("{}.svg", metric.as_str()));
        write_atomic(&path, bar_chart(metric, &rows).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Machine, Samples, LOCKSHIP_WARM};

    #[test]
    fn writes_json_markdown_and_one_chart_per_metric() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Samples::new();
        s.add("app", LOCKSHIP_WARM, Metric::NoopS, 0.5);
        s.add("app", LOCKSHIP_WARM, Metric::SizeBytes, 5e7);
        let report = Report {
            records: s.records().unwrap(),
            machine: Machine::default(),
            runs: 1,
            notes: vec![],
            definitions: vec![],
        };
        let written = write_outputs(dir.path(), &report).unwrap();
        assert_eq!(written.len(), 4);
        for p in &written {
            assert!(p.exists());
        }
        assert!(!dir.path().join("bench.json.tmp").exists());
        let back: Vec<Record> =
            serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
        assert_eq!(back, report.records);
    }
}
