//! The project layer: the project built into a wheel and installed into the
//! venv (it has a build backend), or copied to `/app`; bytecode compiled.

use std::path::{Path, PathBuf};

use lockship_project::Project;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Stage, VenvKey};
use crate::error::io_err;
use crate::plan::ProjectInstall;
use crate::{projectpkg, BuildError};

/// The key of the project layer.
#[derive(Debug, Serialize)]
struct ProjectKey<'a> {
    kind: &'static str,
    venv: VenvKey<'a>,
    install: ProjectInstall,
    /// SHA-256 of the packed wheel, or of the copied tree's names, contents and links.
    content: String,
}

/// The project's layer. `scratch` holds the packed wheel or the copy that
/// the key hashes.
pub(crate) fn build_layer(
    stage: &Stage,
    project: &Project,
    scratch: &Path,
) -> Result<(lockship_layer::Layer, bool), BuildError> {
    let install = stage.plan.project_install;
    let packed: Option<PathBuf> = match install {
        ProjectInstall::Package => Some(projectpkg::pack_wheel(project, scratch)?),
        ProjectInstall::Copy => None,
    };
    let content = match &packed {
        Some(wheel) => hex::encode(Sha256::digest(
            fs_err::read(wheel).map_err(io_err("read", wheel))?,
        )),
        None => copy_digest(project, &scratch.join("copy"))?,
    };
    let key = ProjectKey {
        kind: "lockship-project-v2",
        venv: stage.venv_key(),
        install,
        content,
    };
    stage.layer(&key, |root| {
        let app = root.join("app");
        fs_err::create_dir_all(&app).map_err(io_err("create", &app))?;
        let dir = match &packed {
            Some(wheel) => {
                let venv = stage.venv_layout(root);
                lockship_wheel::install_wheel(wheel, &venv)?;
                venv.site_packages()
            }
            None => {
                projectpkg::copy_to_app(project, root)?;
                "/app".to_string()
            }
        };
        stage.compile_project(root, &dir)
    })
}

/// The copy of the project to `/app`, made in `staging` and hashed: each
/// file's path and bytes, each link's path and target, in name order.
fn copy_digest(project: &Project, staging: &Path) -> Result<String, BuildError> {
    projectpkg::copy_to_app(project, staging)?;
    let mut key = Sha256::new();
    for entry in walkdir::WalkDir::new(staging)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let rel = entry.path().strip_prefix(staging).unwrap_or(entry.path());
        if entry.file_type().is_file() {
            key.update(rel.to_string_lossy().as_bytes());
            key.update(fs_err::read(entry.path()).map_err(io_err("read", entry.path()))?);
        } else if entry.file_type().is_symlink() {
            // A link kept in /app: its name and target.
            key.update(rel.to_string_lossy().as_bytes());
            key.update(b"\0->");
            let target = fs_err::read_link(entry.path()).map_err(io_err("read", entry.path()))?;
            key.update(target.to_string_lossy().as_bytes());
        }
    }
    Ok(hex::encode(key.finalize()))
}
