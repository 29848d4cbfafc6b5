//! No work when nothing changed, for `lockship build`: the request's key,
//! the record of the last build under it ([`lockship_build::noop`]), and the
//! summary printed from that record.

use lockship_bench::{BuildSummary, Written};
use lockship_build::base::BaseImageSource;
use lockship_build::noop::{self, NoopInputs, Reused};
use lockship_build::BuildOptions;
use lockship_oci::Image;
use lockship_runtime::Context;
use serde::{Deserialize, Serialize};

use crate::settings::BuildSettings;

/// What `lockship build` keeps beside the images of a build.
#[derive(Debug, Serialize, Deserialize)]
pub struct Recorded {
    /// The image's name when no tag names it (`PROJECT:VERSION`).
    pub default_name: String,
    /// The build's summary (its time and outputs are replaced on reuse).
    pub summary: BuildSummary,
}

/// The key of this build, `None` when it cannot be made (the build then
/// reports why).
pub fn key(settings: &BuildSettings, options: &BuildOptions) -> Option<String> {
    let base = settings.base_image.as_ref().map(|source| match source {
        BaseImageSource::Local(output) => {
            format!("{}:{}", output.transport(), output.path().display())
        }
        BaseImageSource::Registry(reference) => reference.to_string(),
    });
    noop::key(&NoopInputs {
        options,
        platforms: &settings.runtime.platforms,
        base_image: base.as_deref(),
    })
}

/// The last build of the same key, unless `refresh`.
pub fn lookup(ctx: &Context, key: Option<&str>, refresh: bool) -> Option<Reused<Recorded>> {
    noop::lookup(ctx, key.filter(|_| !refresh)?)
}

/// Records a finished build; a record that cannot be written only costs
/// the next build its shortcut, so it is a warning.
pub fn record(
    ctx: &Context,
    key: Option<&str>,
    images: &[Image],
    default_name: &str,
    summary: &BuildSummary,
    quiet: bool,
) {
    let Some(key) = key else {
        return;
    };
    let recorded = Recorded {
        default_name: default_name.to_string(),
        summary: summary.clone(),
    };
    if let Err(err) = noop::record(ctx, key, images, &recorded) {
        if !quiet {
            eprintln!("warning: the next build cannot reuse this one: {err}");
        }
    }
}

/// The summary of a reused build: every layer and built wheel from the
/// cache, this run's
/// name, time and outputs.
pub fn summary(recorded: Recorded, tag: &str, seconds: f64, outputs: Vec<Written>) -> BuildSummary {
    let mut summary = recorded.summary;
    summary.tag = tag.to_string();
    summary.seconds = seconds;
    summary.outputs = outputs;
    for layer in &mut summary.cached {
        layer.cached = true;
    }
    for wheel in &mut summary.built_wheels {
        wheel.cached = true;
    }
    summary
}
