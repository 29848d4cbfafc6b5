//! Warnings: returned with the rendering, printed by the caller.

use std::fmt;

use serde::Serialize;

/// Something the Dockerfile does that the user should know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    /// The base image is Alpine (musl): no manylinux wheels, so every
    /// package with native code builds from source.
    MuslBase {
        /// The image reference.
        image: String,
    },
    /// The base image has no tag or the `latest` tag, so builds are not repeatable.
    UnpinnedBase {
        /// The image reference.
        image: String,
    },
    /// The container runs as root.
    RootUser {
        /// The user given.
        user: String,
    },
    /// The strategy's installer (pip) cannot read the lock, so the builder
    /// exports it to requirements.txt first.
    LockExported {
        /// The strategy's name.
        strategy: &'static str,
        /// The lock file.
        lock: String,
        /// The export command used.
        via: &'static str,
    },
    /// The distroless base has no package manager, so run-time packages
    /// forced a slim run-time stage.
    DistrolessFallback {
        /// The distroless image that was not used.
        image: String,
        /// The run-time packages that need apt.
        packages: Vec<String>,
    },
    /// The distroless base runs as 65532; the user asked for was replaced.
    DistrolessUser {
        /// The user given.
        user: String,
    },
    /// Dependency groups cannot be selected from this lock; the development
    /// target gets the production dependencies only.
    DevGroupsIgnored {
        /// The lock file.
        lock: String,
    },
    /// An installer is not pinned, so builds pick up its newest release.
    UnpinnedTool {
        /// The tool.
        tool: &'static str,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::MuslBase { image } => write!(
                f,
                "base image `{image}` is Alpine/musl: manylinux wheels do not install there, \
                 so every package with native code builds from source (slow, needs compilers)"
            ),
            Warning::UnpinnedBase { image } => write!(
                f,
                "base image `{image}` has no tag or `latest`: pin a version tag or digest"
            ),
            Warning::RootUser { user } => write!(
                f,
                "the container runs as root (`{user}`): use a non-root user such as 65532"
            ),
            Warning::LockExported {
                strategy,
                lock,
                via,
            } => write!(
                f,
                "`{strategy}` installs with pip, which cannot read `{lock}`: \
                 the builder exports it first with `{via}`"
            ),
            Warning::DistrolessFallback { image, packages } => write!(
                f,
                "`{image}` has no package manager for {}: the run-time stage uses the slim image",
                packages.join(", ")
            ),
            Warning::DistrolessUser { user } => write!(
                f,
                "the distroless run-time stage runs as 65532, not `{user}`"
            ),
            Warning::DevGroupsIgnored { lock } => write!(
                f,
                "dependency groups cannot be selected from `{lock}`: \
                 the development target has the production dependencies only"
            ),
            Warning::UnpinnedTool { tool } => write!(
                f,
                "no {tool} version given: the builders install its newest release"
            ),
        }
    }
}
