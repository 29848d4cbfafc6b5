//! `lockship validate`: the same checks the tests run on every output.

use std::process::ExitCode;

use anyhow::Result;
use lockship_oci::Output;
use serde_json::json;

use crate::cli::ValidateArgs;
use crate::settings::GlobalSettings;

pub fn run(args: ValidateArgs, global: &GlobalSettings) -> Result<ExitCode> {
    let output: Output = args.image.parse()?;
    let images = lockship_oci::validate(&output)?;
    if global.json {
        let list: Vec<_> = images
            .iter()
            .map(|i| json!({"digest": i.manifest_digest, "platform": i.platform.to_string(), "layers": i.layers.len(), "tags": i.tags}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if !global.quiet {
        for image in &images {
            eprintln!(
                "ok: {} {} ({} layers) {}",
                image.platform,
                image.manifest_digest,
                image.layers.len(),
                image.tags.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
