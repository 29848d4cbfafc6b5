//! `BENCH.md`: the machine, then one table per metric, shaped like the
//! seed's (`| Image Name | Size |`), with min, max, runs and the ratio to lockship.

use std::fmt::Write as _;

use crate::record::ratio;
use crate::{reference_for, Metric, Record};

/// The machine the figures were measured on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in bytes, when known.
    pub memory_bytes: Option<u64>,
    /// `uname -sr`, when known.
    pub kernel: Option<String>,
    /// The engine's version, or `None` without Docker.
    pub docker: Option<String>,
    /// When the bench ran (UTC, ISO 8601).
    pub date: String,
}

/// Everything `BENCH.md` shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// The figures.
    pub records: Vec<Record>,
    /// The machine.
    pub machine: Machine,
    /// Runs asked for.
    pub runs: usize,
    /// Skipped figures and caveats, one line each.
    pub notes: Vec<String>,
    /// What each metric measured, `(metric, text)`.
    pub definitions: Vec<(Metric, String)>,
}

/// A value in its unit: `12.3 MB`, `4.56 s`, `7`.
pub fn format_value(metric: Metric, value: f64) -> String {
    match metric.unit() {
        "bytes" => {
            let mut v = value;
            let mut unit = 0;
            const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
            while v >= 1000.0 && unit < UNITS.len() - 1 {
                v /= 1000.0;
                unit += 1;
            }
            if unit == 0 {
                format!("{v:.0} B")
            } else {
                format!("{v:.1} {}", UNITS[unit])
            }
        }
        "count" => format!("{value:.0}"),
        _ if value < 10.0 => format!("{value:.2} s"),
        _ => format!("{value:.1} s"),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch.
pub fn iso_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The whole `BENCH.md`.
pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::from("# lockship bench\n\n");
    let _ = writeln!(out, "| Machine | |\n| --- | --- |");
    let _ = writeln!(out, "| CPUs | {} |", m.cpus);
    if let Some(mem) = m.memory_bytes {
        let _ = writeln!(
            out,
            "| Memory | {:.1} GiB |",
            mem as f64 / (1u64 << 30) as f64
        );
    }
    if let Some(k) = &m.kernel {
        let _ = writeln!(out, "| Kernel | {k} |");
    }
    let _ = writeln!(
        out,
        "| Docker | {} |",
        m.docker
            .as_deref()
            .unwrap_or("not available (lockship rows only)")
    );
    let _ = writeln!(out, "| Date | {} |", m.date);
    let _ = writeln!(
        out,
        "| Runs | {} per figure, interleaved (A B A B …) |\n",
        report.runs
    );
    out.push_str(
        "Each figure is the median of its runs, with the min and max. The last column \
         divides it by the same project's lockship figure from the same bench \
         (`lockship-cold` for uncached builds, `lockship-warm` for the rest).\n",
    );
    for metric in Metric::ALL {
        let rows: Vec<&Record> = report
            .records
            .iter()
            .filter(|r| r.metric == metric.as_str())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {}\n", metric.title());
        if let Some((_, text)) = report.definitions.iter().find(|(d, _)| *d == metric) {
            let _ = writeln!(out, "{text}\n");
        }
        let vs = reference_for(metric).map_or("".to_string(), |r| format!(" vs {r} |"));
        let sep = if vs.is_empty() { "" } else { " --- |" };
        let _ = writeln!(
            out,
            "| Project | Image Name | {} | Min | Max | Runs |{vs}",
            if metric.is_time() {
                "Build Time"
            } else {
                "Size"
            }
        );
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |{sep}");
        for r in &rows {
            let ratio = if vs.is_empty() {
                String::new()
            } else {
                match ratio(&report.records, r) {
                    Some(x) => format!(" {x:.2}× |"),
                    None => " – |".to_string(),
                }
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} |{ratio}",
                r.project,
                r.contender,
                format_value(metric, r.median),
                format_value(metric, r.min),
                format_value(metric, r.max),
                r.runs
            );
        }
        let _ = writeln!(out, "\n![{}]({}.svg)", metric.title(), metric.as_str());
    }
    if !report.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

/// What each metric measures, as `lockship bench` measures it (shown under
/// each table of `BENCH.md`).
pub fn definitions() -> Vec<(Metric, String)> {
    let d = |m, t: &str| (m, t.to_string());
    vec![
        d(Metric::SizeBytes, "`docker image inspect --format {{.Size}}` of the built (strategies) or `--load`ed (lockship) image, base included. Without Docker: lockship's uncompressed layer tars, summed."),
        d(Metric::CompressedBytes, "What a push sends. Strategies: every layer of `docker save` gzipped (default level) and summed, measured on the first run. lockship: its gzip layers as written."),
        d(Metric::Layers, "Layers of the image, base included."),
        d(Metric::UncachedS, "Strategies: `docker build --no-cache` of a fresh copy (downloads and compiles everything; local base stand-ins). `lockship-cold`: `lockship build --output oci:DIR` with an empty `--cache-dir` (every Debian package and wheel downloaded)."),
        d(Metric::CodeChangeS, "One line appended to the first `.py` file under `src/`, then rebuilt (strategies: `docker build`; `lockship-warm`: `lockship build --output oci:DIR`)."),
        d(Metric::NewDependencyS, "One small pure-Python dependency added and re-locked (not timed here: see the re-lock table), then rebuilt. lockship's warm cache keeps that wheel across runs."),
        d(Metric::NoopS, "A rebuild with nothing changed, right after a build."),
        d(Metric::ReadyS, "After a code change: the build (lockship: `lockship build --load`) until `docker create` of the image succeeds."),
        d(Metric::InstallS, "`uv-cold`/`uv-warm`: `uv pip install --no-deps --target EMPTY -r` the locked set (name==version of every wheel lockship installs; no bytecode), with an empty or a primed uv cache. `lockship-warm`: `lockship build --output oci:DIR` with every wheel and the runtime base layer cached but no dependency layer: installs the wheels, compiles bytecode, packs and gzips the layers, writes the image."),
        d(Metric::RelockS, "Adding the dependency to the lock: a pinned, hashed line from the index (requirements.txt), `uv add --no-sync` (uv.lock) or `poetry add --lock` (poetry.lock). Not counted in the new-dependency times."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Samples, LOCKSHIP_COLD, LOCKSHIP_WARM};

    #[test]
    fn values_read_well() {
        assert_eq!(format_value(Metric::SizeBytes, 162_000_000.0), "162.0 MB");
        assert_eq!(format_value(Metric::SizeBytes, 512.0), "512 B");
        assert_eq!(format_value(Metric::Layers, 4.0), "4");
        assert_eq!(format_value(Metric::NoopS, 0.4567), "0.46 s");
        assert_eq!(format_value(Metric::UncachedS, 64.04), "64.0 s");
    }

    #[test]
    fn dates_are_utc_iso() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(951_782_400 + 3_661), "2000-02-29T01:01:01Z");
        assert_eq!(iso_date(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn tables_carry_ratios_and_notes() {
        let mut s = Samples::new();
        s.add("app", "basic-slim", Metric::UncachedS, 60.0);
        s.add("app", LOCKSHIP_COLD, Metric::UncachedS, 20.0);
        s.add("app", "basic-slim", Metric::SizeBytes, 4e8);
        s.add("app", LOCKSHIP_WARM, Metric::SizeBytes, 5e7);
        s.add("app", "relock", Metric::RelockS, 1.0);
        let report = Report {
            records: s.records().unwrap(),
            machine: Machine {
                cpus: 2,
                memory_bytes: Some(1 << 30),
                kernel: Some("Linux 6.1".into()),
                docker: None,
                date: iso_date(0),
            },
            runs: 1,
            notes: vec!["new_dependency_s: no way to re-lock".into()],
            definitions: vec![(Metric::UncachedS, "docker build --no-cache".into())],
        };
        let md = markdown(&report);
        assert!(md.contains("| CPUs | 2 |"), "{md}");
        assert!(md.contains("not available"), "{md}");
        assert!(
            md.contains("| app | `basic-slim` | 60.0 s | 60.0 s | 60.0 s | 1 | 3.00× |"),
            "{md}"
        );
        assert!(md.contains("| app | `basic-slim` | 400.0 MB |"), "{md}");
        assert!(md.contains("8.00×"), "{md}");
        assert!(md.contains("docker build --no-cache"), "{md}");
        assert!(md.contains("- new_dependency_s: no way to re-lock"), "{md}");
        assert!(
            md.contains("![Uncached build time](uncached_s.svg)"),
            "{md}"
        );
        // Re-lock has no lockship reference, so no ratio column.
        assert!(
            md.contains("| app | `relock` | 1.00 s | 1.00 s | 1.00 s | 1 |\n"),
            "{md}"
        );
    }
}
