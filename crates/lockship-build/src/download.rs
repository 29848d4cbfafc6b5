//! Every wheel of the plan, hash-checked, in the content-addressed cache,
//! then linked under its file name (a wheel built from an sdist in its place).

use std::path::{Path, PathBuf};

use lockship_runtime::Context;
use lockship_sdist::BuiltWheel;

use crate::error::io_err;
use crate::layers::NamedWheel;
use crate::{BuildError, ImagePlan, WheelPin};

/// Downloads every wheel (four at a time) into the cache, hash-checked and
/// held to its declared size; a `file://` URL may only read under `file_roots`.
pub(crate) fn download_all(
    ctx: &Context,
    wheels: &[WheelPin],
    file_roots: &[PathBuf],
) -> Result<Vec<PathBuf>, BuildError> {
    let mut out: Vec<Option<Result<PathBuf, BuildError>>> =
        (0..wheels.len()).map(|_| None).collect();
    for (chunk_pins, chunk_out) in wheels.chunks(4).zip(out.chunks_mut(4)) {
        std::thread::scope(|scope| {
            for (pin, slot) in chunk_pins.iter().zip(chunk_out.iter_mut()) {
                scope.spawn(move || {
                    let result = url::Url::parse(&pin.url)
                        .map_err(|e| BuildError::Io {
                            action: "parse the URL of",
                            path: PathBuf::from(&pin.url),
                            source: std::io::Error::other(e),
                        })
                        .and_then(|url| {
                            let request = lockship_fetch::Download {
                                expected_size: pin.size,
                                allowed_file_roots: Some(file_roots),
                                ..lockship_fetch::Download::new(&url, &pin.sha256)
                            };
                            ctx.fetcher
                                .download(&request, ctx.cache, ctx.reporter)
                                .map_err(BuildError::from)
                        });
                    *slot = Some(result);
                });
            }
        });
    }
    out.into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect()
}

/// Each pin's file (the built wheel for an sdist) hard-linked (else copied)
/// under its own file name in `dir`, with its size and hash.
pub(crate) fn link_wheels<'a>(
    plan: &'a ImagePlan,
    downloaded: &[PathBuf],
    built: &[BuiltWheel],
    dir: &Path,
) -> Result<Vec<NamedWheel<'a>>, BuildError> {
    let mut named = Vec::new();
    for (pin, path) in plan.wheels.iter().zip(downloaded) {
        let built = built
            .iter()
            .find(|b| pin.from_sdist && b.package == pin.name);
        let (path, filename, sha256) = match built {
            Some(b) => (&b.path, &b.filename, &b.sha256),
            None => (path, &pin.filename, &pin.sha256),
        };
        let link = dir.join(filename);
        if std::fs::hard_link(path, &link).is_err() {
            fs_err::copy(path, &link).map_err(io_err("copy", path))?;
        }
        let size = fs_err::metadata(&link)
            .map_err(io_err("read", &link))?
            .len();
        named.push(NamedWheel {
            pin,
            path: link,
            size,
            sha256: sha256.clone(),
        });
    }
    Ok(named)
}
