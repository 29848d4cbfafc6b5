//! A Debian repository client: discovers the host's mirror, verifies signed
//! `InRelease` files with OpenPGP, parses Packages indexes, resolves
//! dependencies, downloads `.deb` files through a content-addressed cache,
//! and unpacks them safely. The suite's Contents index
//! ([`ContentsIndex`]) tells which packages ship a file (a shared library,
//! a header, a program).
//!
//! The library never prints; downloads report progress through a
//! [`lockship_fetch::Reporter`].
//!
//! # Example
//!
//! ```no_run
//! use std::path::Path;
//! use lockship_debian::{
//!     mirror_from_apt_sources, resolve, unpack_deb, Keyring, RepoOptions, Repository,
//!     ResolveRequest, UnpackOptions,
//! };
//! use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mirror = mirror_from_apt_sources(Path::new("/"))?.expect("no Debian mirror configured");
//! let keyring = Keyring::load(Path::new(Keyring::DEFAULT_PATH))?;
//! let fetcher = Fetcher::new(FetchOptions::default())?;
//! let cache = Cache::open("lockship-cache")?;
//! let repo = Repository::open(
//!     &fetcher,
//!     &cache,
//!     &keyring,
//!     RepoOptions {
//!         mirror,
//!         suite: "bookworm".into(),
//!         arch: "amd64".into(),
//!         components: vec!["main".into()],
//!     },
//!     &NoReporter,
//! )?;
//! let resolution = resolve(
//!     &repo.index,
//!     &ResolveRequest { roots: vec!["python3".into()], exclude: Default::default() },
//! )?;
//! let debs = repo.fetch_debs(&fetcher, &cache, &resolution.packages, &NoReporter)?;
//! let rootfs = Path::new("rootfs");
//! for deb in &debs {
//!     let unpacked = unpack_deb(deb, rootfs, &UnpackOptions::default(), &|path: &str| {
//!         !path.starts_with("/usr/share/man/")
//!     })?;
//!     println!("{}: {} paths", unpacked.package, unpacked.files.len());
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod contents;
mod deb;
mod deb822;
mod error;
mod keyring;
mod packages;
mod release;
mod repo;
mod resolve;
mod sources;
mod version;

pub use contents::{ContentsHit, ContentsIndex, FileQuery};
pub use deb::{unpack_deb, UnpackOptions, UnpackedDeb, MERGED_USR_DIRS};
pub use error::DebianError;
pub use keyring::Keyring;
pub use packages::{parse_packages, parse_relations, Package, PackageIndex, Relation, VersionOp};
pub use release::{parse_release, verify_inrelease, FileSum, Release};
pub use repo::{RepoOptions, Repository, PARALLEL_DOWNLOADS};
pub use resolve::{resolve, Resolution, ResolveRequest, Skipped};
pub use sources::{apt_sources, mirror_from_apt_sources, AptSource, KNOWN_SUITES};
pub use version::compare_versions;
