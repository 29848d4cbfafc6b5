//! Samples as they are measured, and the `bench.json` records they become.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{reference_for, BenchError, Metric, Summary};

/// One figure of `bench.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The project's directory name.
    pub project: String,
    /// A Dockerfile strategy's name, `lockship-cold`, `lockship-warm`, `uv-cold`,
    /// `uv-warm` or `relock`.
    pub contender: String,
    /// The metric's stable name.
    pub metric: String,
    /// `bytes`, `count` or `seconds`.
    pub unit: String,
    /// The median of the runs.
    pub median: f64,
    /// The smallest run.
    pub min: f64,
    /// The largest run.
    pub max: f64,
    /// How many runs were measured.
    pub runs: usize,
}

impl Record {
    /// The metric, parsed.
    pub fn metric(&self) -> Result<Metric, BenchError> {
        self.metric.parse()
    }
}

/// Every sample measured, keyed by project, contender and metric, in the
/// order they were first seen.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    order: Vec<(String, String, Metric)>,
    values: BTreeMap<(String, String, Metric), Vec<f64>>,
}

impl Samples {
    /// No sample yet.
    pub fn new() -> Samples {
        Samples::default()
    }

    /// Adds one measured value.
    pub fn add(&mut self, project: &str, contender: &str, metric: Metric, value: f64) {
        let key = (project.to_string(), contender.to_string(), metric);
        if !self.values.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.values.entry(key).or_default().push(value);
    }

    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// One record per measured figure: grouped by project, then metric
    /// (report order), then contender (first-seen order).
    pub fn records(&self) -> Result<Vec<Record>, BenchError> {
        let mut projects: Vec<&String> = Vec::new();
        for (p, _, _) in &self.order {
            if !projects.contains(&p) {
                projects.push(p);
            }
        }
        let mut out = Vec::new();
        for project in projects {
            for metric in Metric::ALL {
                for key in self
                    .order
                    .iter()
                    .filter(|(p, _, m)| p == project && *m == metric)
                {
                    let what = format!("{} {} {}", key.0, key.1, metric);
                    let s = Summary::of(&self.values[key], &what)?;
                    out.push(Record {
                        project: key.0.clone(),
                        contender: key.1.clone(),
                        metric: metric.as_str().to_string(),
                        unit: metric.unit().to_string(),
                        median: s.median,
                        min: s.min,
                        max: s.max,
                        runs: s.runs,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The ratio of a record's median to its lockship reference's median, when
/// both were measured (a record is 1.0 against itself).
pub fn ratio(records: &[Record], record: &Record) -> Option<f64> {
    let metric = record.metric().ok()?;
    let reference = reference_for(metric)?;
    let base = records.iter().find(|r| {
        r.project == record.project && r.metric == record.metric && r.contender == reference
    })?;
    (base.median > 0.0).then(|| record.median / base.median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LOCKSHIP_COLD, LOCKSHIP_WARM};

    #[test]
    fn samples_become_records_in_report_order() {
        let mut s = Samples::new();
        s.add("app", "basic-slim", Metric::UncachedS, 10.0);
        s.add("app", LOCKSHIP_COLD, Metric::UncachedS, 4.0);
        s.add("app", "basic-slim", Metric::SizeBytes, 100.0);
        s.add("app", "basic-slim", Metric::UncachedS, 12.0);
        s.add("app", "basic-slim", Metric::UncachedS, 11.0);
        let r = s.records().unwrap();
        assert_eq!(r[0].metric, "size_bytes");
        assert_eq!(r[1].contender, "basic-slim");
        assert_eq!(
            (r[1].median, r[1].min, r[1].max, r[1].runs),
            (11.0, 10.0, 12.0, 3)
        );
        assert_eq!(r[1].unit, "seconds");
        assert_eq!(ratio(&r, &r[1]), Some(11.0 / 4.0));
        assert_eq!(ratio(&r, &r[2]), Some(1.0));
        // No lockship-warm size was measured: no ratio, never a made-up one.
        assert_eq!(ratio(&r, &r[0]), None);
    }

    #[test]
    fn records_serialise_with_the_stable_fields() {
        let mut s = Samples::new();
        s.add("app", LOCKSHIP_WARM, Metric::NoopS, 0.5);
        let json = serde_json::to_value(s.records().unwrap()).unwrap();
        let keys: Vec<&String> = json[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "contender",
                "max",
                "median",
                "metric",
                "min",
                "project",
                "runs",
                "unit"
            ]
        );
    }
}
