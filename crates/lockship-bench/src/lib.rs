//! `lockship bench`: the harness that measures (every Dockerfile strategy
//! through `docker build`, `lockship build` cold and warm, uv's install step,
//! in an interleaved schedule; [`harness`]), and the pure half it hands its
//! samples to: the statistics of each figure, the `bench.json` records, the
//! `BENCH.md` tables, the SVG bar charts, and the compressed size of a
//! `docker save` stream.
//!
//! The harness runs the `lockship` binary it is given and reads its
//! `--json` output as a typed [`BuildSummary`], the same struct the binary
//! prints. The `lockship bench` command only turns its flags into
//! [`harness::BenchOptions`].

#![deny(missing_docs)]

mod error;
pub mod harness;
mod layers;
mod metric;
mod record;
mod relock;
mod report;
mod stats;
mod summary;
mod svg;
mod tree;
mod write;

pub use error::BenchError;
pub use layers::{docker_save_sizes, SavedSizes};
pub use metric::{reference_for, Metric, LOCKSHIP_COLD, LOCKSHIP_WARM, RELOCK};
pub use record::{ratio, Record, Samples};
pub use relock::{newest_pure_release, pinned_requirement, ListedFile};
pub use report::{definitions, format_value, iso_date, markdown, Machine, Report};
pub use stats::{interleave, Summary};
pub use summary::{
    AddedBuildPackage, BaseImageSummary, BuildSummary, BuiltWheelSummary, CachedLayer,
    LayerSummary, LibdepsSummary, MissingLibSummary, PlatformSummary, PushSummary,
    RuntimeNeedSummary, StrippedSummary, WheelSummary, Written,
};
pub use svg::bar_chart;
pub use tree::{change_code, copy_tree, link_tree, SKIP};
pub use write::{write_atomic, write_outputs};
