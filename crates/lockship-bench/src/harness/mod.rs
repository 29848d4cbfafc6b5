//! The harness: every Dockerfile strategy built with `docker build`, beside
//! `lockship build` with a cold and a warm cache and uv's install step, on
//! copies of the projects, in an interleaved schedule.
//!
//! It runs the `lockship` binary it is given and reads its typed
//! [`BuildSummary`](crate::BuildSummary); it prints nothing itself, but says
//! what it does through a [`BenchReporter`].

mod process;
mod project;
mod rounds;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::io_err;
use crate::{
    definitions, interleave, iso_date, write_outputs, BenchError, Machine, Metric, Report, Samples,
    LOCKSHIP_COLD, LOCKSHIP_WARM,
};
use process::{chain, run_cmd};
use project::Project;

/// Where the harness says what it does (the binary prints it, or not).
pub trait BenchReporter {
    /// One line of progress, or a note that also goes into `BENCH.md`.
    fn say(&self, line: &str);
}

/// What to measure, and with what.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `lockship` binary to measure.
    pub lockship: PathBuf,
    /// The Docker client, when an engine answers; without one only the
    /// lockship and uv rows are measured.
    pub docker: Option<PathBuf>,
    /// The project directories (each is copied; the originals are never modified).
    pub projects: Vec<PathBuf>,
    /// The Dockerfile strategies to build, by name.
    pub strategies: Vec<String>,
    /// Runs per figure.
    pub runs: usize,
    /// Where `BENCH.md`, `bench.json`, the charts and the work copies go (absolute).
    pub out: PathBuf,
    /// The package index for re-locking and uv's install step.
    pub index: Option<String>,
    /// PEM CAs trusted in the `python:X-slim`/`python:X` stand-ins.
    pub ca_certs: Vec<PathBuf>,
    /// Keep the benchmark's images in the engine afterwards.
    pub keep_images: bool,
}

/// What a benchmark wrote.
#[derive(Debug, Clone)]
pub struct BenchOutcome {
    /// The records, machine and notes written.
    pub report: Report,
    /// The files written.
    pub written: Vec<PathBuf>,
}

/// The state of one benchmark: what it runs and what it measured.
struct Harness<'a> {
    options: &'a BenchOptions,
    reporter: &'a dyn BenchReporter,
    work: PathBuf,
    warm_cache: PathBuf,
    images: Vec<String>,
    samples: Samples,
    notes: Vec<String>,
}

/// Runs the benchmark and writes its outputs under `options.out`.
pub fn run(
    options: &BenchOptions,
    reporter: &dyn BenchReporter,
) -> Result<BenchOutcome, BenchError> {
    if options.runs == 0 {
        return Err(BenchError::NoRuns);
    }
    let work = options.out.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io_err("clear", &work))?;
    }
    std::fs::create_dir_all(&work).map_err(io_err("create", &work))?;
    let mut h = Harness {
        options,
        reporter,
        work,
        warm_cache: options.out.join("cache/lockship-warm"),
        images: Vec::new(),
        samples: Samples::new(),
        notes: Vec::new(),
    };
    if options.docker.is_none() {
        h.note("Docker is not available: only the lockship rows were measured (no Dockerfile strategy, no `ready_s`, sizes are lockship's own layer sums)");
        h.say("Docker is not available: measuring the lockship rows alone");
    }
    let uv = h.find_uv();
    if uv.is_none() {
        h.note("uv was not found on PATH and could not be installed into a private venv: no uv install_s rows");
    }
    let started = SystemTime::now();
    for dir in &options.projects {
        let project = h.setup_project(dir)?;
        h.measure(&project, uv.as_deref());
    }
    let date = iso_date(
        started
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let report = Report {
        records: h.samples.records()?,
        machine: h.machine(date),
        runs: options.runs,
        notes: h.notes.clone(),
        definitions: definitions(),
    };
    let written = write_outputs(&options.out, &report)?;
    if !options.keep_images {
        if let Some(docker) = &options.docker {
            for tag in &h.images {
                let _ = Command::new(docker).args(["rmi", "-f", tag]).output();
            }
        }
    }
    Ok(BenchOutcome { report, written })
}

impl Harness<'_> {
    /// Every contender of one project, interleaved run by run; a failed
    /// round becomes a note and its figures are missing.
    fn measure(&mut self, project: &Project, uv: Option<&Path>) {
        let mut contenders: Vec<String> = Vec::new();
        if self.options.docker.is_some() {
            for s in &self.options.strategies {
                match self.render_template(project, s) {
                    Ok(()) => contenders.push(s.clone()),
                    Err(e) => self.note(&format!(
                        "{}: `{s}` skipped, rendering failed: {}",
                        project.name,
                        chain(&e)
                    )),
                }
            }
        }
        contenders.push(LOCKSHIP_COLD.into());
        contenders.push(LOCKSHIP_WARM.into());
        if let Some(uv) = uv {
            match self.prime_uv(project, uv) {
                Ok(()) => contenders.extend(["uv-cold".to_string(), "uv-warm".to_string()]),
                Err(e) => self.note(&format!(
                    "{}: uv install skipped: {}",
                    project.name,
                    chain(&e)
                )),
            }
        }
        let runs = self.options.runs;
        for (run, c) in interleave(contenders.len(), runs) {
            let contender = contenders[c].clone();
            self.say(&format!(
                "{} run {}/{runs}: {contender}",
                project.name,
                run + 1
            ));
            let result = match (contender.as_str(), uv) {
                (LOCKSHIP_COLD, _) => self.lockship_cold_round(project, run),
                (LOCKSHIP_WARM, _) => self.lockship_warm_round(project, run),
                ("uv-cold" | "uv-warm", Some(uv)) => self.uv_round(project, uv, &contender),
                (strategy, _) => self.docker_round(project, strategy, run),
            };
            if let Err(e) = result {
                self.note(&format!(
                    "{} run {}: `{contender}` failed, its remaining figures of that run are missing: {}",
                    project.name,
                    run + 1,
                    chain(&e)
                ));
            }
        }
    }

    fn say(&self, text: &str) {
        self.reporter.say(&format!("bench: {text}"));
    }

    fn note(&mut self, text: &str) {
        self.say(text);
        if !self.notes.iter().any(|n| n == text) {
            self.notes.push(text.to_string());
        }
    }

    fn add(&mut self, project: &Project, contender: &str, metric: Metric, value: f64) {
        self.samples.add(&project.name, contender, metric, value);
    }

    /// The `lockship` binary, without the caller's `SOURCE_DATE_EPOCH`.
    fn lockship(&self) -> Command {
        let mut cmd = Command::new(&self.options.lockship);
        cmd.env_remove("SOURCE_DATE_EPOCH");
        cmd
    }

    fn docker(&self) -> Result<Command, BenchError> {
        Ok(Command::new(
            self.options.docker.as_ref().ok_or(BenchError::NoDocker)?,
        ))
    }

    /// Remembers an image tag to remove at the end.
    fn keep_tag(&mut self, tag: &str) {
        if !self.images.iter().any(|t| t == tag) {
            self.images.push(tag.to_string());
        }
    }

    fn machine(&self, date: String) -> Machine {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
            Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
        });
        let kernel = run_cmd(Command::new("uname").arg("-sr"))
            .ok()
            .map(|s| s.trim().to_string());
        let docker = self
            .docker()
            .ok()
            .and_then(|mut c| run_cmd(c.args(["version", "--format", "{{.Server.Version}}"])).ok())
            .map(|s| format!("engine {}", s.trim()));
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_bytes,
            kernel,
            docker,
            date,
        }
    }
}
