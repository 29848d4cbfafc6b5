//! The build strategies: the seeds' hand-written Dockerfiles plus lockship's own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DockerfileError;

/// How the Dockerfile builds the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Everything on the full image, one stage.
    BasicFull,
    /// The slim image, build packages added and removed in the install's RUN.
    BasicSlim,
    /// A venv built in a slim builder, copied into a slim run-time stage.
    LayeredSlim,
    /// A builder base, a run-time builder and a dev builder.
    MultiLayeredSlim,
    /// Wheels built on the full image, installed offline on the slim one.
    LayeredSlimPipWheels,
    /// `layered-slim` with BuildKit cache mounts for the installers.
    LayeredSlimBuildkit,
    /// lockship's own: lock's installer through cache mounts, precompiled bytecode.
    Recommended,
}

impl Strategy {
    /// Every strategy, in the order `--list-strategies` shows them.
    pub const ALL: [Strategy; 7] = [
        Strategy::BasicFull,
        Strategy::BasicSlim,
        Strategy::LayeredSlim,
        Strategy::MultiLayeredSlim,
        Strategy::LayeredSlimPipWheels,
        Strategy::LayeredSlimBuildkit,
        Strategy::Recommended,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::BasicFull => "basic-full",
            Strategy::BasicSlim => "basic-slim",
            Strategy::LayeredSlim => "layered-slim",
            Strategy::MultiLayeredSlim => "multi-layered-slim",
            Strategy::LayeredSlimPipWheels => "layered-slim-pip-wheels",
            Strategy::LayeredSlimBuildkit => "layered-slim-buildkit",
            Strategy::Recommended => "recommended",
        }
    }

    /// One line for `--list-strategies`.
    pub fn describe(self) -> &'static str {
        match self {
            Strategy::BasicFull => "one stage on the full image: simplest, largest",
            Strategy::BasicSlim => {
                "one stage on the slim image; build packages added and removed in the same RUN"
            }
            Strategy::LayeredSlim => {
                "venv built in a slim builder with build packages, copied into a slim run-time stage"
            }
            Strategy::MultiLayeredSlim => {
                "builder base, run-time builder and dev builder; production and development targets"
            }
            Strategy::LayeredSlimPipWheels => {
                "wheels built on the full image, installed with --no-index on the slim image"
            }
            Strategy::LayeredSlimBuildkit => {
                "layered-slim with BuildKit cache mounts for the installer caches"
            }
            Strategy::Recommended => {
                "lock's own installer via cache mounts, deps split from project, unchecked-hash .pyc, \
                 slim or distroless run time"
            }
        }
    }

    /// Whether the strategy itself uses BuildKit-only instructions (cache
    /// mounts); private git dependencies add SSH mounts to any strategy.
    pub fn uses_cache_mounts(self) -> bool {
        matches!(self, Strategy::LayeredSlimBuildkit | Strategy::Recommended)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = DockerfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| DockerfileError::UnknownStrategy {
                name: s.to_string(),
            })
    }
}
