//! The Python an image gets: which version (from the project and the user),
//! from which provider (Debian's packages, or a standalone CPython build),
//! and the standalone provider itself.
//!
//! [`select_python`] takes what the project declares ([`PythonInputs`]:
//! `--python`, `[tool.lockship] python`, `.python-version`, and the
//! `requires-python` ranges) and what the providers have ([`Offer`]s: Debian's
//! per suite, passed in by the caller; standalone builds from a
//! [`Catalogue`]), and returns a [`PythonChoice`] with a one-line reason.
//!
//! [`install_standalone`] brings one python-build-standalone
//! `install_only_stripped` archive from a [`Mirror`] into the download
//! cache, checked against the SHA-256 its release publishes (the release's
//! `SHA256SUMS`, or the table shipped with lockship), unpacks it with the
//! one flattener's rules plus the prefix's ([`PRUNE_RULES`] then prune it),
//! and returns a [`StandaloneRuntime`] the build turns into a layer.
//! See [`catalogue`](crate::Catalogue) for the public sources the asset
//! names, `SHA256SUMS` layout and mirror layout were read from.
//!
//! The tests serve archives built at test time in the releases' exact
//! layout and names from 127.0.0.1: the default download location (the
//! project's public release downloads) was not reachable from the machine
//! where they were written and run, so the download from it is untested
//! here.
//!
//! ```
//! use lockship_python::*;
//!
//! let inputs = PythonInputs {
//!     constraints: vec![PythonConstraint::pep440(ConstraintSource::Pyproject, ">=3.12").unwrap()],
//!     ..PythonInputs::default()
//! };
//! let triple = standalone_triple("amd64", None).unwrap();
//! let mut offers = vec![Offer {
//!     version: "3.11.2".parse().unwrap(),
//!     provider: Provider::Debian { suite: "bookworm".into() },
//! }];
//! offers.extend(Catalogue::shipped().offers(triple));
//! let choice = select_python(&inputs, &offers, &|v| v.minor == 12).unwrap();
//! assert_eq!(choice.minor(), "3.12");
//! assert_eq!(choice.provider.source(), PythonSource::Standalone);
//! assert!(choice.reason.ends_with("(requires-python >=3.12 in pyproject.toml)"));
//! ```
#![deny(missing_docs)]

mod catalogue;
mod error;
mod mirror;
mod select;
mod standalone;
mod unpack;
mod version;

pub use catalogue::{standalone_triple, Catalogue, StandaloneBuild, SUPPORTED_TRIPLES};
pub use error::PythonError;
pub use mirror::{Mirror, MirrorOrigin, MIRROR_ENV};
pub use select::{
    check_base_python, select_python, Offer, Provider, PythonChoice, PythonInputs, PythonSource,
    RequestOrigin,
};
pub use standalone::{
    fetch_release_catalogue, install_standalone, InstallOptions, StandaloneRuntime, DEFAULT_PREFIX,
};
pub use unpack::{prune_tree, PruneRule, PRUNE_RULES};
pub use version::{
    parse_python_version_file, read_python_version_file, ConstraintSource, PyVersion,
    PythonConstraint, PythonRequest,
};
