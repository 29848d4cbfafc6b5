//! `lockship build`: a Python project and its lockfile become an image.
//!
//! The pipeline is `Project → ImagePlan → fetched wheels → staged venv and
//! project trees → layers → Image`. [`plan`] runs the first arrow only (it
//! reads signed Debian indexes and the package index's simple pages, but
//! downloads no wheel); [`build`] runs them all. Layers, bottom up: the
//! runtime base, the third-party venv, the project. Each is cached under a
//! key of its inputs, so a code change rebuilds only the project layer.
//!
//! The rooms, in pipeline order:
//!
//! | module | owns |
//! |---|---|
//! | `options` | the request ([`BuildOptions`]) and the result ([`BuiltImage`]) |
//! | [`base`] | the [`Base`] an image stands on ([`BaseKind`]: lockship's runtime or a `--base-image`, pulled, flattened and probed) and every fact later steps ask of it |
//! | `plan` | `Project → ImagePlan` ([`plan`]); `pins` chooses each wheel, `git` the git and path pins |
//! | `reach` | before any large download, one cheap request to each source still needed (file hosts, the index for sdists, git remotes) |
//! | `download` | the plan's wheels, hash-checked, in the cache |
//! | `complete` | each distribution's own `Requires-Dist`, for the target, satisfied by the selected set |
//! | `sdists` | sdists → wheels in the build environment of the base's suite |
//! | [`layers`] | one module per layer kind (system libraries, large wheels, the venv, the project), each with its cache key as a struct |
//! | `image` | the layers and the plan's run config → the [`lockship_oci::Image`] |
//! | `build` | the orchestrator ([`build`]) |
//! | `analyze` | what a build would find without building ([`analyze`]): the plan's wheels unpacked into a scratch tree and scanned, for `lockship dockerfile` |
//! | `platforms` | one build per platform, checked to agree ([`build_platforms`]) |
//! | [`noop`] | no work when nothing changed: a build's key, and the record of the last build under it |
//!
//! ```no_run
//! use lockship_build::{build, BuildOptions};
//! use lockship_runtime::{BaseOptions, Context, PythonRuntime};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fetcher = lockship_fetch::Fetcher::new(Default::default())?;
//! let cache = lockship_fetch::Cache::open("/tmp/lockship-cache")?;
//! let ctx = Context { fetcher: &fetcher, cache: &cache, reporter: &lockship_fetch::NoReporter };
//! let base = BaseOptions::new(
//!     PythonRuntime::lookup("3.11")?,
//!     "linux/amd64".parse()?,
//!     url::Url::parse("http://127.0.0.1:8080/debian")?,
//! );
//! let built = build(&ctx, &BuildOptions::new("examples/fastapi-app".into(), base))?;
//! println!("{}", built.image.digest());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Errors carry the log lines and file lists a user needs; they are made once
// per failed run, so their size does not matter.
#![allow(clippy::result_large_err)]

mod analyze;
pub mod base;
mod build;
mod complete;
mod download;
mod error;
mod git;
mod image;
pub mod layers;
pub mod noop;
mod options;
mod pins;
mod plan;
mod platforms;
mod projectpkg;
mod reach;
mod sdists;

pub use analyze::{analyze, runtime_of_build_packages, Analysis, Reason, SdistAnalysis, SdistScan};
pub use base::{base_tree, Base, BaseKind};
pub use build::build;
pub use error::BuildError;
pub use git::{GitPin, PinSource};
pub use image::ImageMetadata;
pub use layers::syslibs::{self, Libdeps, MissingLib};
pub use options::{BuildOptions, BuiltImage, DEFAULT_LARGE_WHEEL_BYTES, DEFAULT_MAX_WHEEL_LAYERS};
pub use pins::WheelPin;
pub use plan::{plan, ImagePlan, ProjectInstall, RunConfig};
pub use platforms::{build_platforms, check_aligned};
