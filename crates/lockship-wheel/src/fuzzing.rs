//! Entry points for the fuzz targets of `lockship-fuzz`: parsers that are
//! not part of the public API. Not covered by semver.

/// Parses the text of a wheel's `RECORD` file; returns how many paths it
/// lists.
///
/// # Errors
///
/// The reason, when a line is malformed.
pub fn parse_record(text: &str) -> Result<usize, String> {
    crate::record::parse_record(text).map(|lines| lines.len())
}
