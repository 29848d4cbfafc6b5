//! Layers of their own for large wheels (numpy, torch…), so a change
//! elsewhere in the lock never re-uploads them. A wheel is large by its own
//! size alone, so the split does not move when another entry changes.

use std::path::Path;

use serde::Serialize;

use super::venv::{install, WheelKey};
use super::{NamedWheel, Stage, VenvKey};
use crate::BuildError;

/// The key of one wheel's layer.
#[derive(Debug, Serialize)]
struct WheelLayerKey<'a> {
    kind: &'static str,
    venv: VenvKey<'a>,
    wheel: WheelKey<'a>,
}

/// A large wheel's layer.
pub(crate) struct WheelLayer {
    /// The package.
    pub name: String,
    /// Its layer.
    pub layer: lockship_layer::Layer,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// The indexes (in `named`'s order) of the wheels that get layers of their
/// own: at least `min_bytes`, the `max` largest.
pub(crate) fn large(named: &[NamedWheel], min_bytes: u64, max: usize) -> Vec<usize> {
    let mut large: Vec<usize> = (0..named.len())
        .filter(|&i| named[i].size >= min_bytes)
        .collect();
    large.sort_by(|&a, &b| named[b].size.cmp(&named[a].size).then(a.cmp(&b)));
    large.truncate(max);
    large.sort();
    large
}

/// One layer per wheel of `large`, each holding that wheel installed into the venv.
pub(crate) fn build_layers(
    stage: &Stage,
    large: &[&NamedWheel],
    scratch: &Path,
) -> Result<Vec<WheelLayer>, BuildError> {
    let mut out = Vec::new();
    for wheel in large {
        let key = WheelLayerKey {
            kind: "lockship-wheel-v3",
            venv: stage.venv_key(),
            wheel: WheelKey {
                filename: &wheel.pin.filename,
                sha256: &wheel.sha256,
            },
        };
        let (layer, cached) = stage.venv_layer(&key, |root| {
            stage
                .ctx
                .reporter
                .phase(&format!("installing {}", wheel.pin.filename));
            install(stage, root, &[wheel.path.as_path()], &[], false, scratch)
        })?;
        out.push(WheelLayer {
            name: wheel.pin.name.clone(),
            layer,
            cached,
        });
    }
    Ok(out)
}
