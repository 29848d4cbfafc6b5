//! Wheels for lockship: choosing, locating and installing them without pip.
//!
//! - [`best_wheel`] (and [`select_wheel`] over an index's files) picks, among a release's file names, the wheel that fits
//!   a [`WheelTarget`] best, with the tag priority pip and uv use
//!   (`manylinux`/`musllinux` levels, `abi3`, pure Python).
//! - [`IndexClient`] lists a package's files on a simple-API index (PEP 691
//!   JSON first, PEP 503 HTML otherwise), with credentials from the URL or
//!   `~/.netrc`; [`discover_index`] finds the default index.
//! - [`install_wheel`] unpacks a wheel into a staged virtualenv whose final
//!   path is inside the image, checking every file against `RECORD`, and
//!   writes launchers for entry points; [`write_venv_skeleton`] lays out the
//!   virtualenv itself. [`install_wheel_with`] takes [`InstallOptions`]; by
//!   default the shared objects a wheel builds itself lose their debug
//!   sections ([`strip_debug`]), and the `RECORD` says what was installed.
//!
//! ```no_run
//! use lockship_wheel::{
//!     best_wheel, install_wheel, write_venv_skeleton, Arch, Libc, VenvLayout, WheelTarget,
//! };
//! let target = WheelTarget {
//!     python: (3, 11),
//!     abi: "cp311".into(),
//!     arch: Arch::X86_64,
//!     libc: Libc::Glibc { major: 2, minor: 36 },
//! };
//! let files = vec![
//!     "six-1.16.0-py2.py3-none-any.whl".to_string(),
//!     "six-1.16.0.tar.gz".to_string(),
//! ];
//! let (wheel, _priority) = best_wheel(&files, &target).unwrap();
//! assert_eq!(wheel, "six-1.16.0-py2.py3-none-any.whl");
//!
//! let venv = VenvLayout {
//!     root: "/tmp/staging".into(),
//!     prefix: "/opt/venv".into(),
//!     python: "/usr/bin/python3.11".into(),
//!     python_version: (3, 11),
//!     python_full_version: Some("3.11.2".into()),
//! };
//! write_venv_skeleton(&venv).unwrap();
//! let installed = install_wheel("six-1.16.0-py2.py3-none-any.whl".as_ref(), &venv).unwrap();
//! assert_eq!(installed.name, "six");
//! ```
#![deny(missing_docs)]

mod discover;
mod error;
mod filename;
mod index;
mod install;
mod meta;
mod pages;
mod record;
mod select;
mod staging;
mod strip;
mod tags;
mod venv;

pub use discover::{discover_index, discover_index_from, IndexSources};
pub use error::WheelError;
pub use filename::{normalize_name, WheelFilename};
pub use index::{redact, IndexClient, IndexFile, IndexUrl};
pub use install::{
    install_wheel, install_wheel_with, InstallOptions, InstalledDist, MAX_UNPACKED_BYTES,
};
pub use pages::{parse_html_page, parse_json_page};
pub use select::{same_version, select_wheel};
pub use strip::{should_strip, strip_debug, StripSummary};
pub use tags::{best_wheel, describe_target, Arch, Libc, Priority, TagPriorities, WheelTarget};
pub use venv::{write_venv_skeleton, VenvLayout};

#[doc(hidden)]
pub mod fuzzing;
