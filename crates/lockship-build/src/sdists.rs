//! Sdists → wheels: each sdist of the plan built in the sandboxed build
//! environment of the base's suite (cached by sdist hash), the Contents index
//! naming the Debian package a failed build missed.

use std::path::PathBuf;

use lockship_runtime::Context;
use lockship_sdist::BuiltWheel;

use crate::base::Base;
use crate::options::{sandbox_limits, BuildOptions};
use crate::{BuildError, ImagePlan};

/// Looks up files a failed sdist build missed in the suite's Contents index
/// (opened on first use).
struct ContentsLookup<'a> {
    ctx: &'a Context<'a>,
    base: &'a lockship_runtime::BaseOptions,
}

impl lockship_sdist::PackageLookup for ContentsLookup<'_> {
    fn packages_for(
        &self,
        missing: &[lockship_sdist::Missing],
    ) -> Result<Vec<Vec<String>>, lockship_sdist::SdistError> {
        use lockship_debian::FileQuery;
        use lockship_sdist::Missing;
        let repo = lockship_runtime::open_repository(self.ctx, self.base)?;
        let contents =
            repo.contents(self.ctx.fetcher, self.ctx.cache, "main", self.ctx.reporter)?;
        let (_, triplet) = lockship_runtime::debian_arch(&self.base.platform)?;
        let queries: Vec<Vec<FileQuery>> = missing
            .iter()
            .map(|m| match m {
                Missing::Header(h) => vec![FileQuery::Header(h.clone())],
                Missing::LinkerLib(l) => vec![FileQuery::LinkerLib(l.clone())],
                Missing::Program(p) => vec![FileQuery::Executable(p.clone())],
                Missing::PkgConfig(m) => vec![
                    FileQuery::Path(format!("usr/lib/{triplet}/pkgconfig/{m}.pc")),
                    FileQuery::Path(format!("usr/share/pkgconfig/{m}.pc")),
                    FileQuery::Path(format!("usr/lib/pkgconfig/{m}.pc")),
                ],
            })
            .collect();
        let flat: Vec<FileQuery> = queries.iter().flatten().cloned().collect();
        let found = contents.search(&flat)?;
        Ok(queries
            .iter()
            .map(|qs| {
                let mut packages: Vec<String> = Vec::new();
                for q in qs {
                    for (fq, hits) in &found {
                        if fq == q {
                            for hit in hits {
                                for p in &hit.packages {
                                    if !packages.contains(p) {
                                        packages.push(p.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                packages
            })
            .collect())
    }
}

/// Builds every sdist of the plan into a wheel (or takes it from the cache),
/// in a build environment of the base's suite.
pub(crate) fn build_sdists(
    ctx: &Context,
    options: &BuildOptions,
    base: &Base,
    plan: &ImagePlan,
    downloaded: &[PathBuf],
) -> Result<Vec<BuiltWheel>, BuildError> {
    let mut out = Vec::new();
    if let Some(pin) = plan.wheels.iter().find(|p| p.from_sdist) {
        base.check_sdist(pin)?;
    }
    let mut packages = plan.build_packages.clone();
    packages.extend(options.build_packages.iter().cloned());
    packages.sort();
    packages.dedup();
    let mut sdist_options =
        lockship_sdist::SdistOptions::new(lockship_runtime::buildenv::BuildEnvOptions {
            base: base.options.clone(),
            packages,
        });
    sdist_options.auto_packages = options.auto_build_packages;
    sdist_options.limits = sandbox_limits(&plan.sandbox_limits, sdist_options.limits);
    sdist_options.index_urls = plan.index_urls.clone();
    sdist_options.env_vars = plan
        .build_env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lookup = ContentsLookup {
        ctx,
        base: &base.options,
    };
    for (pin, path) in plan.wheels.iter().zip(downloaded) {
        if !pin.from_sdist {
            continue;
        }
        let request = lockship_sdist::SdistRequest {
            name: pin.name.clone(),
            version: pin.version.clone(),
            sdist: path.clone(),
            filename: pin.filename.clone(),
            sha256: pin.sha256.clone(),
        };
        out.push(lockship_sdist::build_wheel(
            ctx,
            &sdist_options,
            &request,
            &lookup,
        )?);
    }
    Ok(out)
}
