//! The image: the base's layers, the layers lockship adds, the config from
//! the plan, and annotations (title, version, the checkout's revision and source).

use std::collections::BTreeSet;
use std::path::Path;

use lockship_layer::Layer;
use lockship_oci::{History, Image};

use crate::layers::syslibs::SyslibsLayer;
use crate::layers::wheels::WheelLayer;

use crate::ImagePlan;

/// The layers lockship adds over the base, bottom up.
pub(crate) struct Added {
    /// The system-libraries layer, when libdeps or the plan asked for packages.
    pub syslibs: Option<SyslibsLayer>,
    /// One per large wheel.
    pub wheels: Vec<WheelLayer>,
    /// The rest of the venv.
    pub dependencies: Layer,
    /// The project.
    pub project: Layer,
}

/// The image: the base's layers, the added layers, and the config.
pub(crate) fn describe(plan: &ImagePlan, base: Image, added: &Added) -> Image {
    let mut image = base;
    if let Some(syslibs) = &added.syslibs {
        image.layers.push(syslibs.layer.clone());
        image.history.push(History {
            created_by: format!(
                "lockship build: system libraries: {}",
                syslibs
                    .packages
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.version))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            comment: Some("found by libdeps and [tool.lockship] system-packages".to_string()),
            empty_layer: false,
        });
    }
    for wheel in &added.wheels {
        image.layers.push(wheel.layer.clone());
        image.history.push(History {
            created_by: format!(
                "lockship build: the {} wheel (a layer of its own)",
                wheel.name
            ),
            comment: None,
            empty_layer: false,
        });
    }
    image.layers.push(added.dependencies.clone());
    image.layers.push(added.project.clone());
    image.history.push(History {
        created_by: format!(
            "lockship build: {} wheels from {} into {}",
            plan.wheels.len(),
            plan.lock_kind.file_name(),
            plan.venv
        ),
        comment: None,
        empty_layer: false,
    });
    image.history.push(History {
        created_by: format!(
            "lockship build: project {} ({})",
            plan.project, plan.project_install
        ),
        comment: None,
        empty_layer: false,
    });
    let config = &mut image.config;
    config.user = Some(plan.config.user.clone());
    config.env = plan.config.env.clone();
    // No command found: no entrypoint at all (the plan warned), not a bare interpreter.
    config.entrypoint =
        (!plan.config.entrypoint.is_empty()).then(|| plan.config.entrypoint.clone());
    config.cmd = (!plan.config.cmd.is_empty()).then(|| plan.config.cmd.clone());
    config.working_dir = Some(plan.config.workdir.clone());
    // A base image's ports stay exposed; lockship's own base exposes none.
    config
        .exposed_ports
        .extend(plan.config.ports.iter().cloned().collect::<BTreeSet<_>>());
    config.labels.extend(plan.config.labels.clone());
    image.annotations.insert(
        "org.opencontainers.image.title".into(),
        plan.project.clone(),
    );
    if let Some(version) = &plan.version {
        image
            .annotations
            .insert("org.opencontainers.image.version".into(), version.clone());
    }
    if let Some(rev) = git_output(&plan.project_dir, &["rev-parse", "HEAD"]) {
        image
            .annotations
            .insert("org.opencontainers.image.revision".into(), rev);
    }
    if let Some(source) = git_output(&plan.project_dir, &["remote", "get-url", "origin"]) {
        image.annotations.insert(
            "org.opencontainers.image.source".into(),
            without_credentials(&source),
        );
    }
    image
}

/// A remote URL with any `user:password@` removed.
fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_authority() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// What git says about the project's checkout, when it is one.
fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_annotations_carry_no_credentials() {
        assert_eq!(
            super::without_credentials("https://user:token@git.invalid/org/app.git"),
            "https://git.invalid/org/app.git"
        );
        assert_eq!(
            super::without_credentials("git@git.invalid:org/app.git"),
            "git@git.invalid:org/app.git"
        );
    }
}
