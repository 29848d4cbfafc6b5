//! The layers lockship adds over the base, one module per kind, bottom up:
//! the system libraries ([`syslibs`]), one per large wheel (`wheels`), the
//! rest of the venv (`venv`) and the project (`project`).
//!
//! Each layer is cached under a key of its inputs: a serialisable struct per
//! kind, hashed as JSON (`cache_key`), so a key names every input by field
//! and a code change rebuilds only the project layer.

use std::path::{Path, PathBuf};

use lockship_layer::{Layer, LayerCache, LayerError, LayerOptions};
use lockship_runtime::compile::{compile_dirs_report, CompileFailure, CompileOptions};
use lockship_runtime::Context;
use lockship_wheel::{StripSummary, VenvLayout};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::base::Base;
use crate::options::sandbox_limits;
use crate::{BuildError, ImagePlan};

pub(crate) mod project;
pub mod syslibs;
pub(crate) mod venv;
pub(crate) mod wheels;

/// The hex SHA-256 of a key's JSON: fields in declaration order, so equal
/// inputs give equal keys.
pub(crate) fn cache_key(key: &impl Serialize) -> String {
    let json = serde_json::to_vec(key).expect("cache keys are plain data");
    hex::encode(Sha256::digest(json))
}

/// What every layer of the venv depends on besides its own content.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VenvKey<'a> {
    /// The venv's path in the image.
    pub venv: &'a str,
    /// The interpreter it runs on.
    pub python: &'a str,
    /// Its full version.
    pub python_full_version: &'a str,
    /// Whether bytecode is compiled.
    pub compile: bool,
    /// Whether wheels' own shared objects are stripped of debug sections.
    pub strip: bool,
    /// The blob's compression.
    pub compression: lockship_layer::Compression,
    /// The entries' mtime.
    pub epoch: u64,
}

/// What the layer builders share: the plan, the base, where layers go and how.
pub(crate) struct Stage<'a> {
    pub ctx: &'a Context<'a>,
    pub plan: &'a ImagePlan,
    pub base: &'a Base,
    /// Compile bytecode for the venv and the project.
    pub compile: bool,
    /// Strip debug sections from the shared objects wheels build themselves.
    pub strip: bool,
    /// What stripping saved so far, over the venv's layers (cached or not).
    pub stripped: std::cell::Cell<StripSummary>,
    /// Dependencies' files that did not compile (skipped, named in a warning).
    pub compile_skipped: std::cell::RefCell<Vec<CompileFailure>>,
    /// How layers are written.
    pub layer_options: LayerOptions,
    /// Where they are cached.
    pub layers: LayerCache,
}

impl<'a> Stage<'a> {
    /// The venv's layout in a staging tree.
    pub fn venv_layout(&self, root: &Path) -> VenvLayout {
        VenvLayout {
            root: root.to_path_buf(),
            prefix: self.plan.venv.clone(),
            python: self.plan.python_path.clone(),
            python_version: self.plan.python_version,
            python_full_version: Some(self.plan.python_full_version.clone()),
        }
    }

    /// The inputs every venv layer's key has.
    pub fn venv_key(&self) -> VenvKey<'_> {
        VenvKey {
            venv: &self.plan.venv,
            python: &self.plan.python_path,
            python_full_version: &self.plan.python_full_version,
            compile: self.compile,
            strip: self.strip,
            compression: self.layer_options.compression,
            epoch: self.layer_options.mtime,
        }
    }

    /// The layer cached under `key`, else built by `build` into a staging
    /// directory and written. A failure of `build` comes back as it was made.
    pub fn layer(
        &self,
        key: &impl Serialize,
        build: impl FnOnce(&Path) -> Result<(), BuildError>,
    ) -> Result<(Layer, bool), BuildError> {
        let key = cache_key(key);
        let skipped_before = self.compile_skipped.borrow().len();
        let produced = self.layers.get_or_build(&key, |out| {
            let staging = self.ctx.cache.temp_dir().map_err(producer)?;
            build(staging.path()).map_err(producer)?;
            lockship_layer::write_layer(staging.path(), &self.layer_options, out)
        });
        let (layer, cached) = produced.map_err(|e| {
            e.into_producer::<BuildError>()
                .unwrap_or_else(BuildError::from)
        })?;
        // The files a build skipped are kept beside the layer under its key,
        // so a cached layer warns of them too.
        let record = self
            .ctx
            .cache
            .keyed_dir("compile-skipped", &key)
            .with_extension("json");
        if cached {
            self.compile_skipped
                .borrow_mut()
                .extend(load_compile_skipped(&record));
        } else {
            let skipped = self.compile_skipped.borrow()[skipped_before..].to_vec();
            if skipped.is_empty() {
                // A record left by an older copy of this layer is wrong now.
                let _ = std::fs::remove_file(&record);
            } else {
                save_compile_skipped(&record, &skipped)?;
            }
        }
        Ok((layer, cached))
    }

    /// A venv layer: [`Stage::layer`], whose `build` returns what stripping
    /// saved. The summary is kept beside the layer cache under the same key,
    /// so a cached layer reports it too; it is added to [`Stage::stripped`].
    pub fn venv_layer(
        &self,
        key: &impl Serialize,
        build: impl FnOnce(&Path) -> Result<StripSummary, BuildError>,
    ) -> Result<(Layer, bool), BuildError> {
        let record = self
            .ctx
            .cache
            .keyed_dir("strip-summary", &cache_key(key))
            .with_extension("json");
        let mut made = None;
        let (layer, cached) = self.layer(key, |root| {
            made = Some(build(root)?);
            Ok(())
        })?;
        let summary = match made {
            Some(summary) => {
                save_strip_summary(&record, &summary)?;
                summary
            }
            None => load_strip_summary(&record),
        };
        let mut total = self.stripped.get();
        total.files += summary.files;
        total.bytes_before += summary.bytes_before;
        total.bytes_after += summary.bytes_after;
        self.stripped.set(total);
        Ok((layer, cached))
    }

    /// Compiles the bytecode of `dir` (in-image path) in the staging tree
    /// `root` with the base's interpreter, when bytecode is on and it can run.
    pub fn compile(&self, root: &Path, dir: &str) -> Result<(), BuildError> {
        let failed = self.compile_report(root, dir)?;
        self.compile_skipped.borrow_mut().extend(failed);
        Ok(())
    }

    /// Compiles the project's own code: a file that does not compile is the
    /// user's bug, and fails the build naming it.
    pub fn compile_project(&self, root: &Path, dir: &str) -> Result<(), BuildError> {
        let failed = self.compile_report(root, dir)?;
        if failed.is_empty() {
            return Ok(());
        }
        let files: Vec<String> = failed
            .iter()
            .map(|f| format!("`{}` ({})", f.path, f.message))
            .collect();
        Err(BuildError::ProjectSyntax {
            files: files.join(", "),
        })
    }

    /// The files under `dir` that did not compile (none compiled without
    /// bytecode, or without an interpreter for a foreign architecture: the
    /// image then runs without bytecode, which `lockship base` reports too).
    fn compile_report(&self, root: &Path, dir: &str) -> Result<Vec<CompileFailure>, BuildError> {
        if !self.compile {
            return Ok(Vec::new());
        }
        let Some(interp) = self.base.interpreter(&self.base.built().tree) else {
            return Ok(Vec::new());
        };
        let mut options = CompileOptions::default();
        options.limits = sandbox_limits(&self.plan.sandbox_limits, options.limits);
        Ok(compile_dirs_report(root, &interp, &[dir.to_string()], &options)?.failed)
    }
}

/// Writes a layer's strip summary (temp file, then rename).
fn save_strip_summary(record: &Path, s: &StripSummary) -> Result<(), BuildError> {
    use crate::error::io_err;
    if let Some(parent) = record.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let text = format!("{} {} {}\n", s.files, s.bytes_before, s.bytes_after);
    let tmp = record.with_extension("tmp");
    fs_err::write(&tmp, text).map_err(io_err("write", &tmp))?;
    fs_err::rename(&tmp, record).map_err(io_err("rename", record))
}

/// A layer's strip summary as saved; zero when absent or unreadable (a
/// layer cached before summaries were kept): it only feeds the report.
fn load_strip_summary(record: &Path) -> StripSummary {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    let n: Vec<u64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match n.as_slice() {
        [files, before, after] => StripSummary {
            files: *files,
            bytes_before: *before,
            bytes_after: *after,
        },
        _ => StripSummary::default(),
    }
}

fn save_compile_skipped(record: &Path, skipped: &[CompileFailure]) -> Result<(), BuildError> {
    use crate::error::io_err;
    if let Some(parent) = record.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let pairs: Vec<(&str, &str)> = skipped
        .iter()
        .map(|f| (f.path.as_str(), f.message.as_str()))
        .collect();
    let text = serde_json::to_string(&pairs).expect("pairs of strings");
    let tmp = record.with_extension("tmp");
    fs_err::write(&tmp, text).map_err(io_err("write", &tmp))?;
    fs_err::rename(&tmp, record).map_err(io_err("rename", record))
}

/// The files a cached layer's build skipped; none when absent or
/// unreadable (it only feeds a warning).
fn load_compile_skipped(record: &Path) -> Vec<CompileFailure> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    serde_json::from_str::<Vec<(String, String)>>(&text)
        .unwrap_or_default()
        .into_iter()
        .map(|(path, message)| CompileFailure { path, message })
        .collect()
}

/// The warning for dependencies' files that did not compile: how many, and
/// the first few by their path in site-packages. pip and uv skip them too.
pub(crate) fn skipped_warning(failed: &[CompileFailure]) -> Option<String> {
    const NAMED: usize = 5;
    if failed.is_empty() {
        return None;
    }
    let names: Vec<&str> = failed
        .iter()
        .take(NAMED)
        .map(|f| {
            f.path
                .split_once("site-packages/")
                .map_or(f.path.as_str(), |(_, rel)| rel)
        })
        .collect();
    let more = match failed.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let (count, verb) = match failed.len() {
        1 => ("1 dependency file".to_string(), "does"),
        n => (format!("{n} dependency files"), "do"),
    };
    Some(format!(
        "skipped {count} that {verb} not compile to bytecode: {}{more} (they stay as source, as pip and uv leave them)",
        names.join(", ")
    ))
}

/// A build error as the layer cache carries it (typed, its hint kept).
pub(crate) fn producer(e: impl Into<BuildError>) -> LayerError {
    LayerError::Producer(Box::new(e.into()))
}

/// A wheel to install: its pin, its file (hard-linked under its own name) and size.
pub(crate) struct NamedWheel<'a> {
    pub pin: &'a crate::WheelPin,
    pub path: PathBuf,
    pub size: u64,
    /// The hash of the file installed: the pin's own, or the wheel built from it.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(strip: bool) -> String {
        cache_key(&VenvKey {
            venv: "/opt/venv",
            python: "/usr/bin/python3.11",
            python_full_version: "3.11.2",
            compile: true,
            strip,
            compression: lockship_layer::Compression::Gzip,
            epoch: 0,
        })
    }

    #[test]
    fn no_strip_rebuilds_the_venv_layers() {
        assert_ne!(key(true), key(false));
        assert_eq!(key(true), key(true));
    }

    #[test]
    fn strip_summaries_round_trip_and_default_to_zero() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("k/summary.json");
        let summary = StripSummary {
            files: 3,
            bytes_before: 9_100_000,
            bytes_after: 1_200_000,
        };
        save_strip_summary(&record, &summary).unwrap();
        assert_eq!(load_strip_summary(&record), summary);
        assert_eq!(
            load_strip_summary(&dir.path().join("absent.json")),
            StripSummary::default()
        );
        std::fs::write(&record, "garbage").unwrap();
        assert_eq!(load_strip_summary(&record), StripSummary::default());
    }
}
