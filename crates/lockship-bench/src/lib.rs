//! The pure half of `lockship bench`: the interleaved schedule, the statistics
//! of each figure, the `bench.json` records, the `BENCH.md` tables, the SVG
//! bar charts, and the compressed size of a `docker save` stream.
//!
//! Nothing here runs a build or talks to Docker; the driver in the `lockship`
//! binary measures, and hands the samples to [`Samples`].

#![deny(missing_docs)]

mod error;
mod layers;
mod metric;
mod record;
mod relock;
mod report;
mod stats;
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
pub use svg::bar_chart;
pub use tree::{change_code, copy_tree, link_tree, SKIP};
pub use write::{write_atomic, write_outputs};
