//! Which shared libraries the ELF files of an image need and nothing in the
//! image provides, found without running anything.
//!
//! [`scan_tree`] (or [`Filesystem::scan`]) finds the ELF files of a tree and
//! reads their dynamic-linking facts ([`ElfFile`]); a malformed file becomes
//! a [`Warning`], not an error. [`Resolver`] models glibc's `ld.so` search
//! for each `DT_NEEDED` entry inside the image: `DT_RPATH`, `DT_RUNPATH`
//! (with `$ORIGIN`, `$LIB`, `$PLATFORM`), `/etc/ld.so.conf`, the machine's
//! default directories, auditwheel's `<name>.libs` directories, and the
//! dynamic loader. Symlinks are resolved inside the image, so nothing
//! outside the given directories is read. [`check`] puts it together into a
//! [`Report`] of missing sonames.
//!
//! The image is a [`Filesystem`]: root trees layered like overlayfs plus
//! directories mounted at in-image paths, so a venv can be checked against an
//! unpacked base image while only the venv's files are scanned.
//!
//! ```no_run
//! use lockship_elf::{check, CheckOptions, Filesystem, Scope};
//! # fn main() -> Result<(), lockship_elf::ElfError> {
//! let fs = Filesystem::new()
//!     .with_root("unpacked-base")
//!     .with_mount("/opt/venv", ".venv");
//! let report = check(
//!     &fs,
//!     &CheckOptions { scope: Scope::Under(vec!["/opt/venv".into()]), follow_found: false },
//! )?;
//! for (soname, needers) in &report.missing {
//!     println!("{soname} ({} files)", needers.len());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod dlopen;
mod elf;
mod error;
mod fs;
mod report;
mod resolve;
mod scan;
mod search;

pub use dlopen::{
    known_runtime_libraries, resolve_runtime_loads, scan_runtime_loads, AskedBy, KnownFile,
    KnownLibrary, KnownRuntimeLibraries, LoadCall, MissingRuntimeLib, OptionalModule, RuntimeLoad,
    RuntimeResolution, RuntimeScan, SatisfiedLoad, Wanted, MAX_PY_FILE,
};
pub use elf::{is_elf, parse_elf, ElfFile, ElfKind, ELF_MAGIC};
pub use error::ElfError;
pub use fs::Filesystem;
pub use report::{check, check_scan, CheckOptions, Needer, Report};
pub use resolve::{Found, Resolver, SearchDir, Via};
pub use scan::{scan_tree, Scan, Scope, Warning};
