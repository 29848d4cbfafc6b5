//! Writing one image to every requested destination (shared by the verbs that build).

use anyhow::{Context as _, Result};
use pyoci_oci::{Image, Output};
use serde::Serialize;

/// Where an image went.
#[derive(Debug, Serialize)]
pub struct Written {
    /// `oci:DIR`, `docker-archive:FILE`, or `docker:NAME:TAG` for the engine.
    pub destination: String,
    /// Bytes written (0 for the engine).
    pub bytes: u64,
}

/// Parses every `--output` up front, so a typo fails before any work.
pub fn parse_outputs(outputs: &[String]) -> Result<Vec<(String, Output)>> {
    outputs
        .iter()
        .map(|text| Ok((text.clone(), text.parse::<Output>()?)))
        .collect()
}

/// Writes `image` to each output and, with `load`, into the Docker engine.
pub fn write_all(
    image: &Image,
    outputs: &[(String, Output)],
    load: Option<&str>,
    tag: &str,
) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    for (text, output) in outputs {
        let summary = pyoci_oci::write_output(image, output, Some(tag))
            .with_context(|| format!("Cannot write `{text}`"))?;
        written.push(Written {
            destination: text.clone(),
            bytes: summary.bytes,
        });
    }
    if let Some(name) = load {
        pyoci_oci::load_into_docker(image, name)
            .with_context(|| format!("Cannot load `{name}` into Docker"))?;
        written.push(Written {
            destination: format!("docker:{name}"),
            bytes: 0,
        });
    }
    Ok(written)
}

/// Human-readable bytes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
