//! The layers lockship adds over the base, one module per kind, bottom up:
//! the system libraries ([`syslibs`]), one per large wheel (`wheels`), the
//! rest of the venv (`venv`) and the project (`project`).
//!
//! Each layer is cached under a key of its inputs: a serialisable struct per
//! kind, hashed as JSON (`cache_key`), so a key names every input by field
//! and a code change rebuilds only the project layer.

use std::path::{Path, PathBuf};

use lockship_layer::{Layer, LayerCache, LayerError, LayerOptions};
use lockship_runtime::compile::{compile_dirs_with, CompileOptions};
use lockship_runtime::Context;
use lockship_wheel::VenvLayout;
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
        let produced = self.layers.get_or_build(&cache_key(key), |out| {
            let staging = self.ctx.cache.temp_dir().map_err(producer)?;
            build(staging.path()).map_err(producer)?;
            lockship_layer::write_layer(staging.path(), &self.layer_options, out)
        });
        produced.map_err(|e| {
            e.into_producer::<BuildError>()
                .unwrap_or_else(BuildError::from)
        })
    }

    /// Compiles the bytecode of `dir` (in-image path) in the staging tree
    /// `root` with the base's interpreter, when bytecode is on and it can run.
    pub fn compile(&self, root: &Path, dir: &str) -> Result<(), BuildError> {
        if !self.compile {
            return Ok(());
        }
        // No interpreter for a foreign architecture: the image runs without
        // bytecode (slower starts), which `lockship base` reports the same way.
        let Some(interp) = self.base.interpreter(&self.base.built().tree) else {
            return Ok(());
        };
        let mut options = CompileOptions::default();
        options.limits = sandbox_limits(&self.plan.sandbox_limits, options.limits);
        compile_dirs_with(root, &interp, &[dir.to_string()], &options)?;
        Ok(())
    }
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
