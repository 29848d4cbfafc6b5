//! The stable metric names, their units, and which lockship row each is compared to.

use std::fmt;
use std::str::FromStr;

use crate::BenchError;

/// The contender name of `lockship build` with an empty cache.
pub const LOCKSHIP_COLD: &str = "lockship-cold";
/// The contender name of `lockship build` with a warm cache.
pub const LOCKSHIP_WARM: &str = "lockship-warm";
/// The contender name under which re-lock times are recorded.
pub const RELOCK: &str = "relock";

/// What is measured. The names (`as_str`) are stable: `bench.json` uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Uncompressed image size, as `docker images` reports it.
    SizeBytes,
    /// The bytes a push sends: every layer gzipped, summed.
    CompressedBytes,
    /// The number of layers.
    Layers,
    /// A build with no cache at all.
    UncachedS,
    /// A rebuild after one source file changed.
    CodeChangeS,
    /// A rebuild after one dependency was added and re-locked.
    NewDependencyS,
    /// A rebuild with nothing changed.
    NoopS,
    /// From a code change until the engine can create a container of the image.
    ReadyS,
    /// Installing the locked set of wheels.
    InstallS,
    /// Re-locking with one more dependency (not counted in `new_dependency_s`).
    RelockS,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 10] = [
        Metric::SizeBytes,
        Metric::CompressedBytes,
        Metric::Layers,
        Metric::UncachedS,
        Metric::CodeChangeS,
        Metric::NewDependencyS,
        Metric::NoopS,
        Metric::ReadyS,
        Metric::InstallS,
        Metric::RelockS,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SizeBytes => "size_bytes",
            Metric::CompressedBytes => "compressed_bytes",
            Metric::Layers => "layers",
            Metric::UncachedS => "uncached_s",
            Metric::CodeChangeS => "code_change_s",
            Metric::NewDependencyS => "new_dependency_s",
            Metric::NoopS => "noop_s",
            Metric::ReadyS => "ready_s",
            Metric::InstallS => "install_s",
            Metric::RelockS => "relock_s",
        }
    }

    /// The unit in `bench.json`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::SizeBytes | Metric::CompressedBytes => "bytes",
            Metric::Layers => "count",
            _ => "seconds",
        }
    }

    /// A heading for tables and charts.
    pub fn title(self) -> &'static str {
        match self {
            Metric::SizeBytes => "Image size (uncompressed, as `docker images` reports it)",
            Metric::CompressedBytes => "Compressed size (the bytes a push sends)",
            Metric::Layers => "Layers",
            Metric::UncachedS => "Uncached build time",
            Metric::CodeChangeS => "Code change build time",
            Metric::NewDependencyS => "New dependency build time",
            Metric::NoopS => "No-op rebuild time",
            Metric::ReadyS => "Time until the image can be run",
            Metric::InstallS => "Install step",
            Metric::RelockS => "Re-lock with one more dependency",
        }
    }

    /// Whether the value is a time.
    pub fn is_time(self) -> bool {
        self.unit() == "seconds"
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Metric, BenchError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| BenchError::UnknownMetric {
                name: s.to_string(),
            })
    }
}

/// The lockship row a figure is compared to: `lockship-cold` for uncached builds,
/// `lockship-warm` for everything else; none for re-locking (no build).
pub fn reference_for(metric: Metric) -> Option<&'static str> {
    match metric {
        Metric::UncachedS => Some(LOCKSHIP_COLD),
        Metric::RelockS => None,
        _ => Some(LOCKSHIP_WARM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_stable() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), m);
        }
        assert_eq!(Metric::NewDependencyS.as_str(), "new_dependency_s");
        assert!("speed".parse::<Metric>().is_err());
    }

    #[test]
    fn uncached_is_compared_to_the_cold_row() {
        assert_eq!(reference_for(Metric::UncachedS), Some(LOCKSHIP_COLD));
        assert_eq!(reference_for(Metric::CodeChangeS), Some(LOCKSHIP_WARM));
        assert_eq!(reference_for(Metric::RelockS), None);
    }
}
