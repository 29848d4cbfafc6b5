//! The [`PackageLookup`] of real builds: the suite's signed Packages index
//! (does a package exist?) and its Contents index (who ships a file?), each
//! opened once, on first use.

use std::cell::OnceCell;

use lockship_debian::{ContentsIndex, FileQuery, Repository};
use lockship_runtime::{BaseOptions, Context};

use crate::{Missing, PackageLookup, SdistError};

/// Looks files up in the Contents index of the base's suite (`main`).
pub struct ContentsLookup<'a> {
    ctx: &'a Context<'a>,
    base: &'a BaseOptions,
    repo: OnceCell<Repository>,
    contents: OnceCell<ContentsIndex>,
}

impl<'a> ContentsLookup<'a> {
    /// A lookup in the suite of `base` (nothing is opened yet).
    pub fn new(ctx: &'a Context<'a>, base: &'a BaseOptions) -> ContentsLookup<'a> {
        ContentsLookup {
            ctx,
            base,
            repo: OnceCell::new(),
            contents: OnceCell::new(),
        }
    }

    fn repo(&self) -> Result<&Repository, SdistError> {
        if let Some(repo) = self.repo.get() {
            return Ok(repo);
        }
        let repo = lockship_runtime::open_repository(self.ctx, self.base)?;
        Ok(self.repo.get_or_init(|| repo))
    }

    fn contents(&self) -> Result<&ContentsIndex, SdistError> {
        if let Some(contents) = self.contents.get() {
            return Ok(contents);
        }
        let ctx = self.ctx;
        ctx.reporter
            .phase("looking up the missing files in the Contents index");
        let contents = self
            .repo()?
            .contents(ctx.fetcher, ctx.cache, "main", ctx.reporter);
        ctx.reporter.phase("");
        let contents = contents?;
        Ok(self.contents.get_or_init(|| contents))
    }
}

/// The files of the Contents index that may answer for `missing`, best
/// first.
pub fn queries_for(missing: &Missing, triplet: &str) -> Vec<FileQuery> {
    match missing {
        Missing::Header(h) => vec![FileQuery::Header(h.clone())],
        Missing::LinkerLib(l) => vec![FileQuery::LinkerLib(l.clone())],
        Missing::Program(p) => vec![FileQuery::Executable(p.clone())],
        Missing::PkgConfig(m) => vec![
            FileQuery::Path(format!("usr/lib/{triplet}/pkgconfig/{m}.pc")),
            FileQuery::Path(format!("usr/share/pkgconfig/{m}.pc")),
            FileQuery::Path(format!("usr/lib/pkgconfig/{m}.pc")),
        ],
    }
}

impl PackageLookup for ContentsLookup<'_> {
    fn packages_for(&self, missing: &[Missing]) -> Result<Vec<Vec<String>>, SdistError> {
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let contents = self.contents()?;
        let (_, triplet) = lockship_runtime::debian_arch(&self.base.platform)?;
        let queries: Vec<Vec<FileQuery>> =
            missing.iter().map(|m| queries_for(m, triplet)).collect();
        let flat: Vec<FileQuery> = queries.iter().flatten().cloned().collect();
        let found = contents.search(&flat)?;
        Ok(queries
            .iter()
            .map(|qs| {
                let mut packages: Vec<String> = Vec::new();
                for q in qs {
                    for (_, hits) in found.iter().filter(|(fq, _)| fq == q) {
                        for p in hits.iter().flat_map(|h| &h.packages) {
                            if !packages.contains(p) {
                                packages.push(p.clone());
                            }
                        }
                    }
                }
                packages
            })
            .collect())
    }

    fn packages_exist(&self, names: &[String]) -> Result<Vec<bool>, SdistError> {
        let repo = self.repo()?;
        Ok(names
            .iter()
            .map(|n| repo.index.get(n).is_some() || !repo.index.providers(n).is_empty())
            .collect())
    }
}
