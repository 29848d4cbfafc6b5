//! The image: the base's layers, the layers lockship adds, the config from
//! the plan, and the OCI labels and annotations (title, version,
//! description, licenses, created, the checkout's source and revision, the
//! base image's name and digest).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

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
    label(&mut image, plan);
    image
}

/// What the image says about itself beyond its run config: the values of
/// the `org.opencontainers.image.*` keys lockship does not find itself, and
/// `--label`/`--annotation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageMetadata {
    /// `[project] description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `[project] license`, an SPDX expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<String>,
    /// `--source`: instead of the checkout's `origin` remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `--revision`: instead of the checkout's commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `--label`: config labels, over every other.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `--annotation`: manifest annotations, over every other.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageMetadata {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &ImageMetadata::default()
    }
}

/// The OCI `org.opencontainers.image.*` keys' prefix.
const OCI: &str = "org.opencontainers.image.";

/// Labels in the config (which `docker load` keeps) and the same as manifest
/// annotations (which registries show): title, version, description,
/// licenses, created, source and revision, and a base image's name and
/// digest. A base's own `org.opencontainers.image.*` labels and annotations
/// describe the base, not this image, and are dropped. Then `[tool.lockship] labels`
/// and `--label` (labels), `--annotation` (annotations), each over what came before.
fn label(image: &mut Image, plan: &ImagePlan) {
    let meta = &plan.metadata;
    let checkout = if meta.source.is_none() || meta.revision.is_none() {
        Checkout::read(&plan.project_dir)
    } else {
        None
    };
    let mut oci: BTreeMap<&str, String> = BTreeMap::new();
    oci.insert("title", plan.project.clone());
    oci.insert("created", lockship_oci::rfc3339(image.created));
    let found = [
        ("version", plan.version.clone()),
        ("description", meta.description.clone()),
        ("licenses", meta.licenses.clone()),
        (
            "source",
            meta.source
                .clone()
                .or_else(|| checkout.as_ref().and_then(|c| c.source.clone())),
        ),
        (
            "revision",
            meta.revision
                .clone()
                .or_else(|| checkout.as_ref().map(|c| c.revision.clone())),
        ),
        (
            "base.name",
            image.annotations.get(&format!("{OCI}base.name")).cloned(),
        ),
        (
            "base.digest",
            image.annotations.get(&format!("{OCI}base.digest")).cloned(),
        ),
    ];
    for (key, value) in found {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            oci.insert(key, value.trim().to_string());
        }
    }
    // The base's own (a runtime's title and Python version, say) are not this image's.
    image.annotations.retain(|key, _| !key.starts_with(OCI));
    let labels = &mut image.config.labels;
    labels.retain(|key, _| !key.starts_with(OCI));
    for (key, value) in &oci {
        labels.insert(format!("{OCI}{key}"), value.clone());
        image
            .annotations
            .insert(format!("{OCI}{key}"), value.clone());
    }
    labels.extend(plan.config.labels.clone());
    labels.extend(meta.labels.clone());
    image.annotations.extend(meta.annotations.clone());
}

/// What a git checkout with a clean tree says about itself.
struct Checkout {
    /// `HEAD`'s commit.
    revision: String,
    /// The `origin` remote, without credentials.
    source: Option<String>,
}

impl Checkout {
    /// The checkout `dir` is in, when it is one and nothing in its tree is
    /// changed or untracked (a dirty tree's commit does not say what was
    /// built). Plain reads: `git status` takes no optional lock and refreshes nothing.
    fn read(dir: &Path) -> Option<Checkout> {
        let status = git_output(dir, &["status", "--porcelain"])?;
        if !status.is_empty() {
            return None;
        }
        let revision = git_output(dir, &["rev-parse", "--verify", "HEAD"])?;
        let source = git_output(dir, &["remote", "get-url", "origin"])
            .filter(|s| !s.is_empty())
            .map(|s| without_credentials(&s));
        Some(Checkout { revision, source })
    }
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
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
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
