//! Downloads for lockship: a content-addressed cache and an HTTP client.
//!
//! Every artifact lockship uses (Debian indexes, `.deb` files, wheels) lands in a
//! [`Cache`] keyed by its SHA-256. Entries are written to a temporary file in
//! the cache directory and renamed into place only once the hash matched, so a
//! killed run never leaves a half-written entry behind, and two processes can
//! share one cache (the last rename wins, and both wrote the same bytes).
//!
//! What arrives is never trusted: a [`Download`] carries the size the lock or
//! the index declares, and the copy stops as soon as more bytes arrive (a
//! download of no declared size is capped at
//! [`FetchOptions::max_download_bytes`]); a `file://` URL from a lock must
//! resolve, symlinks and all, to a regular file under the directories it
//! may read. File names from outside pass [`check_dist_filename`] before
//! anything joins them to a path.
//!
//! ```no_run
//! use lockship_fetch::{Cache, Fetcher, FetchOptions, NoReporter};
//! let cache = Cache::open("/tmp/lockship-cache").unwrap();
//! let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
//! let url = url::Url::parse("http://127.0.0.1:8080/some.deb").unwrap();
//! let sha = "0000000000000000000000000000000000000000000000000000000000000000";
//! let path = fetcher.fetch_to_cache(&url, sha, &cache, &NoReporter).unwrap();
//! println!("{}", path.display());
//! ```
#![deny(missing_docs)]

mod cache;
mod client;
mod error;
mod names;
pub mod prune;

pub use cache::{sha256_hex, Cache, Expected, HashingReader};
pub use client::{
    Download, FetchOptions, Fetcher, NoReporter, Reporter, DEFAULT_MAX_DOWNLOAD_BYTES,
};
pub use error::FetchError;
pub use names::{
    check_dist_filename, check_file_name, is_sha256_hex, DistKind, MAX_FILE_NAME_BYTES,
    SDIST_SUFFIXES,
};
