//! The multi-platform loop: one image per platform (Debian packages and
//! wheels chosen for each, no emulation), then a check that the images of
//! one index hold the same package versions.

use lockship_oci::Platform;
use lockship_runtime::Context;

use crate::base::PulledBase;
use crate::{build, BuildError, BuildOptions, BuiltImage};

/// Builds `options` once per platform, on the base image `base_image` gives
/// for it (`None`: lockship's own runtime), and checks the images align
/// ([`check_aligned`]). The first image is the first platform's.
pub fn build_platforms<E: From<BuildError>>(
    ctx: &Context,
    options: &BuildOptions,
    platforms: &[Platform],
    mut base_image: impl FnMut(&Platform) -> Result<Option<PulledBase>, E>,
) -> Result<Vec<BuiltImage>, E> {
    let mut all = Vec::new();
    for platform in platforms {
        let mut options = options.clone();
        options.base.platform = platform.clone();
        options.base_image = base_image(platform)?;
        all.push(build(ctx, &options)?);
    }
    check_aligned(&all)?;
    Ok(all)
}

/// What must agree between the images of one index.
struct Versions {
    platform: String,
    /// Architecture-specific Debian packages (name, version).
    debs: Vec<(String, String)>,
    /// Python packages (name, version).
    wheels: Vec<(String, String)>,
}

impl Versions {
    fn of(built: &BuiltImage) -> Versions {
        let plan = &built.plan;
        Versions {
            platform: plan.base.platform.clone(),
            debs: plan
                .base
                .packages
                .iter()
                .filter(|p| p.architecture != "all")
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect(),
            wheels: plan
                .wheels
                .iter()
                .map(|w| (w.name.clone(), w.version.clone()))
                .collect(),
        }
    }
}

/// Images of one index must hold the same Debian package versions and the
/// same Python package versions on every platform.
pub fn check_aligned(all: &[BuiltImage]) -> Result<(), BuildError> {
    let versions: Vec<Versions> = all.iter().map(Versions::of).collect();
    aligned(&versions)
}

fn aligned(all: &[Versions]) -> Result<(), BuildError> {
    let Some(first) = all.first() else {
        return Ok(());
    };
    for other in &all[1..] {
        for (name, version) in &other.debs {
            if let Some((_, v)) = first.debs.iter().find(|(n, _)| n == name) {
                if v != version {
                    return Err(BuildError::PlatformDebsDiffer {
                        package: name.clone(),
                        first: (first.platform.clone(), v.clone()),
                        other: (other.platform.clone(), version.clone()),
                    });
                }
            }
        }
        if first.wheels != other.wheels {
            return Err(BuildError::PlatformWheelsDiffer {
                first: first.platform.clone(),
                other: other.platform.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(platform: &str, libc6: &str, numpy: &str) -> Versions {
        Versions {
            platform: platform.into(),
            debs: vec![("libc6".into(), libc6.into())],
            wheels: vec![("numpy".into(), numpy.into())],
        }
    }

    #[test]
    fn platforms_with_the_same_versions_align() {
        let all = [
            versions("linux/amd64", "2.36-9", "2.1.0"),
            versions("linux/arm64", "2.36-9", "2.1.0"),
        ];
        assert!(aligned(&all).is_ok());
        assert!(aligned(&[]).is_ok());
    }

    #[test]
    fn a_debian_package_of_another_version_names_both_platforms() {
        let all = [
            versions("linux/amd64", "2.36-9", "2.1.0"),
            versions("linux/arm64", "2.36-10", "2.1.0"),
        ];
        let err = aligned(&all).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Debian package `libc6` is 2.36-9 for linux/amd64 but 2.36-10 for linux/arm64"
        );
        assert!(err.hint().unwrap().contains("--debian-mirror"));
    }

    #[test]
    fn python_packages_that_differ_are_an_error() {
        let all = [
            versions("linux/amd64", "2.36-9", "2.1.0"),
            versions("linux/arm64", "2.36-9", "2.0.0"),
        ];
        let err = aligned(&all).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The Python packages differ between linux/amd64 and linux/arm64"
        );
        assert!(err.hint().unwrap().contains("lockship plan"));
    }
}
