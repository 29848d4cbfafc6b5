//! The Dockerfile equivalent of a lockship image: one multi-stage Dockerfile
//! per build strategy, rendered from the same plain-data [`DockerInput`].
//!
//! [`render`] writes the Dockerfile and its `.dockerignore` for a
//! [`Strategy`]: the strategies of the hand-written seeds (`basic-full`
//! through `layered-slim-buildkit`) and lockship's own `recommended`.
//! [`render_compose`] adds a `compose.yaml` whose `dev` service runs the
//! `development` target with the source mounted. Nothing is printed: what
//! the user should know comes back as [`Warning`]s.
//!
//! Every Dockerfile installs the lock with its own tool (uv, Poetry, pip,
//! or uv for `pylock.toml`) into a venv, copies the lock before the source so
//! a code change reuses the dependency layer, leaves no installer or apt
//! caches behind, runs as a non-root user, and never has a `# syntax=` line:
//! Docker's built-in BuildKit frontend reads `RUN --mount` without one.
//!
//! # Example
//!
//! ```
//! use lockship_dockerfile::{render, render_compose, DockerInput, LockInput, LockKind, Strategy};
//!
//! let mut input = DockerInput::new("api", "3.11", LockInput::new(LockKind::Uv, "uv.lock"));
//! input.source_dirs = vec!["src".into()];
//! input.cmd = vec!["uvicorn".into(), "api.main:app".into(), "--host".into(), "0.0.0.0".into()];
//! input.ports = vec!["8000/tcp".into()];
//! input.tool_versions.uv = Some("0.9.5".into());
//!
//! let out = render(&input, "recommended".parse::<Strategy>().unwrap()).unwrap();
//! assert!(out.dockerfile.contains("uv sync --frozen --no-install-project --no-dev"));
//! assert!(out.needs_buildkit);
//! assert_eq!(out.targets, ["production", "development"]);
//! assert!(out.warnings.is_empty());
//! assert!(out.dockerignore.contains(".venv"));
//!
//! let compose = render_compose(&input, Strategy::Recommended);
//! assert!(compose.contains("target: development"));
//! ```
#![deny(missing_docs)]

mod doc;
mod error;
mod extras;
mod input;
mod install;
mod stages;
mod strategies;
mod strategy;
mod validate;
mod warning;

use serde::Serialize;

pub use error::DockerfileError;
pub use extras::render_compose;
pub use input::{BaseImages, DockerInput, LockInput, LockKind, ProjectInstall, ToolVersions};
pub use strategy::Strategy;
pub use warning::Warning;

/// A rendered Dockerfile and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The Dockerfile.
    pub dockerfile: String,
    /// The `.dockerignore`.
    pub dockerignore: String,
    /// The `compose.yaml`, when asked for with [`Rendered::with_compose`].
    pub compose: Option<String>,
    /// What the user should know.
    pub warnings: Vec<Warning>,
    /// The Dockerfile uses `RUN --mount` (cache or SSH), so it builds only
    /// with BuildKit (`DOCKER_BUILDKIT=1`).
    pub needs_buildkit: bool,
    /// The build targets, the default (last stage) first.
    pub targets: Vec<String>,
}

impl Rendered {
    /// Adds the compose file of [`render_compose`].
    pub fn with_compose(mut self, input: &DockerInput, strategy: Strategy) -> Self {
        self.compose = Some(render_compose(input, strategy));
        self
    }
}

/// Renders the Dockerfile of `strategy` for `input`.
pub fn render(input: &DockerInput, strategy: Strategy) -> Result<Rendered, DockerfileError> {
    validate::validate(input)?;
    let mut ctx = install::Ctx::new(input, strategy);
    let needs_buildkit = strategy.uses_cache_mounts() || !input.git_ssh.is_empty();
    let dockerfile = strategies::dockerfile(&mut ctx, needs_buildkit)?;
    let mut warnings = input_warnings(input, strategy);
    warnings.extend(ctx.warnings);
    Ok(Rendered {
        dockerfile,
        dockerignore: extras::dockerignore(input),
        compose: None,
        warnings,
        needs_buildkit,
        targets: vec!["production".to_string(), "development".to_string()],
    })
}

/// The base images `strategy` names.
fn images(input: &DockerInput, strategy: Strategy) -> Vec<&str> {
    let b = &input.base_images;
    match strategy {
        Strategy::BasicFull => vec![&b.full],
        Strategy::LayeredSlimPipWheels => vec![&b.full, &b.slim],
        Strategy::Recommended => {
            // The builder, then the slim image the development target runs on.
            let mut v = vec![
                if input.needs_compiler {
                    &b.full
                } else {
                    &b.slim
                },
                &b.slim,
            ];
            if let (Some(d), true) = (&b.distroless, input.runtime_packages.is_empty()) {
                v.push(d);
            }
            v
        }
        _ => vec![&b.slim],
    }
    .into_iter()
    .map(String::as_str)
    .fold(Vec::new(), |mut acc, img| {
        if !acc.contains(&img) {
            acc.push(img);
        }
        acc
    })
}

/// The tag of an image reference: `None` without one; digests count as pinned.
fn tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return Some("@digest");
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, t)| t)
}

fn input_warnings(input: &DockerInput, strategy: Strategy) -> Vec<Warning> {
    let mut w = Vec::new();
    for img in images(input, strategy) {
        if img.to_ascii_lowercase().contains("alpine") {
            w.push(Warning::MuslBase {
                image: img.to_string(),
            });
        }
        if matches!(tag(img), None | Some("latest")) {
            w.push(Warning::UnpinnedBase {
                image: img.to_string(),
            });
        }
    }
    if matches!(input.user.as_str(), "root" | "0") {
        w.push(Warning::RootUser {
            user: input.user.clone(),
        });
    }
    let groups_unselectable = match input.lock.kind {
        LockKind::Pylock => true,
        LockKind::Requirements => input.lock.dev_file.is_none(),
        LockKind::Uv | LockKind::Poetry => false,
    };
    if groups_unselectable && !input.groups.is_empty() {
        w.push(Warning::DevGroupsIgnored {
            lock: input.lock.file.clone(),
        });
    }
    w
}
