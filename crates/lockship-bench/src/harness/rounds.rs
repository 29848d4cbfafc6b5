//! One round of each contender: a Dockerfile strategy through `docker build`,
//! `lockship build` with a cold and a warm cache, and uv's install step.

use std::path::Path;
use std::process::Stdio;

use super::process::{nonce, run_cmd, timed};
use super::project::{Project, Target};
use super::Harness;
use crate::error::io_err;
use crate::{
    change_code, link_tree, BenchError, BuildSummary, Metric, LOCKSHIP_COLD, LOCKSHIP_WARM, RELOCK,
};

impl Harness<'_> {
    fn docker_build(&self, dir: &Path, tag: &str, no_cache: bool) -> Result<(), BenchError> {
        let path = dir.join("Dockerfile");
        let dockerfile = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
        let buildkit = dockerfile.contains("RUN --mount");
        let mut cmd = self.docker()?;
        cmd.env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" })
            .arg("build");
        if no_cache {
            cmd.arg("--no-cache");
        }
        if dockerfile.to_lowercase().contains(" as production") {
            cmd.args(["--target", "production"]);
        }
        if buildkit {
            cmd.args(["--progress", "plain"]);
        }
        run_cmd(cmd.args(["-t", tag]).arg(dir))?;
        Ok(())
    }

    /// `docker images`' size and the layer count.
    fn inspect(&self, tag: &str) -> Result<(f64, f64), BenchError> {
        let text = run_cmd(self.docker()?.args([
            "image",
            "inspect",
            "--format",
            "{{.Size}} {{len .RootFS.Layers}}",
            tag,
        ]))?;
        let mut it = text.split_whitespace().map(|v| v.parse::<f64>());
        match (it.next(), it.next()) {
            (Some(Ok(size)), Some(Ok(layers))) => Ok((size, layers)),
            _ => Err(BenchError::DockerOutput {
                command: "image inspect",
                text,
            }),
        }
    }

    /// The compressed size of an engine's image: `docker save`, each layer gzipped.
    fn compressed(&self, tag: &str) -> Result<f64, BenchError> {
        let mut child = self
            .docker()?
            .args(["save", tag])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| BenchError::Start {
                program: "docker save".into(),
                source,
            })?;
        let stdout = child.stdout.take().ok_or(BenchError::DockerOutput {
            command: "save",
            text: "no standard output".into(),
        })?;
        let sizes = crate::docker_save_sizes(stdout);
        let status = child.wait().map_err(|source| BenchError::Start {
            program: "docker save".into(),
            source,
        })?;
        let sizes = sizes?;
        if !status.success() {
            return Err(BenchError::Command {
                program: format!("docker save {tag}"),
                status: status.to_string(),
                tail: String::new(),
            });
        }
        Ok(sizes.compressed_bytes as f64)
    }

    /// `docker create` answers: the image can be run.
    fn can_run(&self, tag: &str) -> Result<(), BenchError> {
        let id = run_cmd(self.docker()?.args(["create", tag]))?;
        let _ = self.docker()?.args(["rm", "-f", id.trim()]).output();
        Ok(())
    }

    pub(super) fn docker_round(
        &mut self,
        project: &Project,
        strategy: &str,
        run: usize,
    ) -> Result<(), BenchError> {
        let dir = project.round_dir(strategy, &project.template(strategy))?;
        let tag = format!("lockship-bench/{}:{strategy}", project.name);
        self.keep_tag(&tag);
        let ((), t) = timed(|| self.docker_build(&dir, &tag, true))?;
        self.add(project, strategy, Metric::UncachedS, t);
        let (size, layers) = self.inspect(&tag)?;
        self.add(project, strategy, Metric::SizeBytes, size);
        self.add(project, strategy, Metric::Layers, layers);
        if run == 0 {
            let c = self.compressed(&tag)?;
            self.add(project, strategy, Metric::CompressedBytes, c);
        }
        let ((), t) = timed(|| self.docker_build(&dir, &tag, false))?;
        self.add(project, strategy, Metric::NoopS, t);
        change_code(&dir, nonce())?;
        let ((), t) = timed(|| self.docker_build(&dir, &tag, false))?;
        self.add(project, strategy, Metric::CodeChangeS, t);
        let (relocked, t) = timed(|| self.relock(project, &dir))?;
        if relocked {
            self.add(project, RELOCK, Metric::RelockS, t);
            let ((), t) = timed(|| self.docker_build(&dir, &tag, false))?;
            self.add(project, strategy, Metric::NewDependencyS, t);
        }
        change_code(&dir, nonce())?;
        let ((), t) = timed(|| {
            self.docker_build(&dir, &tag, false)?;
            self.can_run(&tag)
        })?;
        self.add(project, strategy, Metric::ReadyS, t);
        Ok(())
    }

    /// The sizes a build summary gives: compressed bytes and layers, and
    /// (without an engine to ask) the uncompressed bytes as the image size.
    fn summary_sizes(&mut self, project: &Project, contender: &str, summary: &BuildSummary) {
        self.add(
            project,
            contender,
            Metric::CompressedBytes,
            summary.compressed_bytes as f64,
        );
        self.add(
            project,
            contender,
            Metric::Layers,
            summary.layers.len() as f64,
        );
        if self.options.docker.is_none() {
            self.add(
                project,
                contender,
                Metric::SizeBytes,
                summary.uncompressed_bytes as f64,
            );
        }
    }

    /// `lockship build` into the OCI layout beside `dir`.
    fn build_oci(&self, dir: &Path, cache: &Path) -> Result<BuildSummary, BenchError> {
        self.lockship_build(dir, cache, Target::Oci(dir.with_extension("oci")))
    }

    pub(super) fn lockship_cold_round(
        &mut self,
        project: &Project,
        run: usize,
    ) -> Result<(), BenchError> {
        let dir = project.round_dir(LOCKSHIP_COLD, &project.pristine)?;
        let cache = dir.with_file_name(format!("cache-cold-{run}"));
        let (summary, t) = timed(|| self.build_oci(&dir, &cache))?;
        self.add(project, LOCKSHIP_COLD, Metric::UncachedS, t);
        self.summary_sizes(project, LOCKSHIP_COLD, &summary);
        if self.options.docker.is_some() {
            let tag = format!("lockship-bench/{}:{LOCKSHIP_COLD}", project.name);
            self.keep_tag(&tag);
            self.lockship_build(&dir, &cache, Target::Load(tag.clone()))?;
            let (size, _) = self.inspect(&tag)?;
            self.add(project, LOCKSHIP_COLD, Metric::SizeBytes, size);
        }
        std::fs::remove_dir_all(&cache).map_err(io_err("remove", &cache))?;
        Ok(())
    }

    pub(super) fn lockship_warm_round(
        &mut self,
        project: &Project,
        run: usize,
    ) -> Result<(), BenchError> {
        let dir = project.round_dir(LOCKSHIP_WARM, &project.pristine)?;
        let cache = self.warm_cache.clone();
        self.build_oci(&dir, &cache)?;
        let (summary, t) = timed(|| self.build_oci(&dir, &cache))?;
        self.add(project, LOCKSHIP_WARM, Metric::NoopS, t);
        self.summary_sizes(project, LOCKSHIP_WARM, &summary);
        change_code(&dir, nonce())?;
        let (_, t) = timed(|| self.build_oci(&dir, &cache))?;
        self.add(project, LOCKSHIP_WARM, Metric::CodeChangeS, t);
        let (relocked, t) = timed(|| self.relock(project, &dir))?;
        if relocked {
            self.add(project, RELOCK, Metric::RelockS, t);
            let (_, t) = timed(|| self.build_oci(&dir, &cache))?;
            self.add(project, LOCKSHIP_WARM, Metric::NewDependencyS, t);
        }
        if self.options.docker.is_some() {
            let tag = format!("lockship-bench/{}:{LOCKSHIP_WARM}", project.name);
            self.keep_tag(&tag);
            change_code(&dir, nonce())?;
            let (_, t) = timed(|| {
                self.lockship_build(&dir, &cache, Target::Load(tag.clone()))?;
                self.can_run(&tag)
            })?;
            self.add(project, LOCKSHIP_WARM, Metric::ReadyS, t);
            let (size, _) = self.inspect(&tag)?;
            self.add(project, LOCKSHIP_WARM, Metric::SizeBytes, size);
        }
        // The install step: every wheel and the base layer cached, no dependency layer.
        let fresh = dir.with_file_name(format!("cache-install-{run}"));
        link_tree(&project.base_only, &fresh)?;
        let (_, t) = timed(|| self.build_oci(&project.pristine, &fresh))?;
        self.add(project, LOCKSHIP_WARM, Metric::InstallS, t);
        std::fs::remove_dir_all(&fresh).map_err(io_err("remove", &fresh))?;
        Ok(())
    }

    fn uv_install(
        &self,
        project: &Project,
        uv: &Path,
        cache: &Path,
        target: &Path,
    ) -> Result<(), BenchError> {
        if target.exists() {
            std::fs::remove_dir_all(target).map_err(io_err("remove", target))?;
        }
        let mut cmd = std::process::Command::new(uv);
        cmd.args([
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python-version",
            &project.python,
            "--target",
        ])
        .arg(target)
        .arg("-r")
        .arg(&project.locked_set)
        .env("UV_CACHE_DIR", cache)
        .env("UV_NATIVE_TLS", "1")
        .env("UV_PYTHON_DOWNLOADS", "never");
        if let Some(index) = &self.options.index {
            cmd.args(["--index-url", index]);
        }
        run_cmd(&mut cmd)?;
        Ok(())
    }

    /// Fills uv's warm cache once.
    pub(super) fn prime_uv(&self, project: &Project, uv: &Path) -> Result<(), BenchError> {
        let target = project.pristine.with_file_name("uv-target");
        self.uv_install(
            project,
            uv,
            &self.options.out.join("cache/uv-warm"),
            &target,
        )
    }

    pub(super) fn uv_round(
        &mut self,
        project: &Project,
        uv: &Path,
        contender: &str,
    ) -> Result<(), BenchError> {
        let target = project
            .pristine
            .with_file_name(format!("{contender}-target"));
        let cache = if contender == "uv-warm" {
            self.options.out.join("cache/uv-warm")
        } else {
            project.pristine.with_file_name("uv-cold-cache")
        };
        if contender == "uv-cold" && cache.exists() {
            std::fs::remove_dir_all(&cache).map_err(io_err("remove", &cache))?;
        }
        let ((), t) = timed(|| self.uv_install(project, uv, &cache, &target))?;
        self.add(project, contender, Metric::InstallS, t);
        if contender == "uv-cold" {
            std::fs::remove_dir_all(&cache).map_err(io_err("remove", &cache))?;
        }
        Ok(())
    }
}
