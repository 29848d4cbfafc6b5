//! Downloads for lockship: a content-addressed cache and an HTTP client.
//!
//! Every artifact lockship uses (Debian indexes, `.deb` files, wheels) lands in a
//! [`Cache`] keyed by its SHA-256. Entries are written to a temporary file in
//! the cache directory and renamed into place only once the hash matched, so a
//! killed run never leaves a half-written entry behind, and two processes can
//! share one cache (the last rename wins, and both wrote the same bytes).
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

pub use cache::{sha256_hex, Cache, HashingReader};
pub use client::{FetchOptions, Fetcher, NoReporter, Reporter};
pub use error::FetchError;
