//! The stable-Rust fuzzing driver: runs one target (or all) with the
//! deterministic mutator for a given time, or replays saved inputs.
//!
//! ```text
//! lockship-fuzz list
//! lockship-fuzz TARGET [--seconds N | --runs N] [--seed N] [--hang-seconds N]
//! lockship-fuzz all [--seconds N]            (N seconds for each target)
//! lockship-fuzz TARGET --replay FILE...
//! lockship-fuzz TARGET --export-seeds DIR    (a starting corpus for cargo-fuzz)
//! ```

use std::process::ExitCode;
use std::time::Duration;

use lockship_fuzz::{fuzz, run_one, target, Budget, CappedAlloc, Options, Target, TARGETS};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

const USAGE: &str = "usage: lockship-fuzz list | TARGET|all [--seconds N | --runs N] [--seed N] [--hang-seconds N] | TARGET --replay FILE... | TARGET --export-seeds DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let Some(name) = args.first() else {
        return Err("no target given".into());
    };
    if name == "list" {
        for t in TARGETS {
            println!("{:<22} {}", t.name, t.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut seconds = 60u64;
    let mut runs = None;
    let mut options = Options::runs(0);
    let mut replay = Vec::new();
    let mut export = None;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().ok_or_else(|| format!("`{arg}` needs a value"));
        match arg.as_str() {
            "--seconds" => {
                let v = value()?;
                seconds = v
                    .parse()
                    .map_err(|_| format!("`{v}` is not a number of seconds"))?;
            }
            "--runs" => {
                let v = value()?;
                runs = Some(v.parse().map_err(|_| format!("`{v}` is not a number"))?);
            }
            "--seed" => {
                let v = value()?;
                options.seed = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
            }
            "--hang-seconds" => {
                let v = value()?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("`{v}` is not a number of seconds"))?;
                options.hang_after = Duration::from_secs(secs);
            }
            "--export-seeds" => export = Some(value()?.clone()),
            "--replay" => {
                replay.extend(rest.by_ref().cloned());
                break;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    options.budget = match runs {
        Some(n) => Budget::Runs(n),
        None => Budget::Time(Duration::from_secs(seconds)),
    };
    let chosen: Vec<&'static Target> = if name == "all" {
        TARGETS.iter().collect()
    } else {
        vec![target(name)
            .ok_or_else(|| format!("no target `{name}` (`lockship-fuzz list` shows them)"))?]
    };
    if let Some(dir) = export {
        let [t] = chosen.as_slice() else {
            return Err("`--export-seeds` takes one target".into());
        };
        return export_seeds(t, &dir);
    }
    if !replay.is_empty() {
        let [t] = chosen.as_slice() else {
            return Err("`--replay` takes one target".into());
        };
        for file in &replay {
            let input = std::fs::read(file).map_err(|e| format!("cannot read `{file}`: {e}"))?;
            run_one(t, &input, options.memory_cap);
            println!("{file}: ok");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for t in chosen {
        match fuzz(t, &options) {
            Ok(stats) => println!(
                "{:<22} ok: {} inputs ({} seeds) in {:.1} s",
                t.name,
                stats.inputs,
                stats.seeds,
                stats.elapsed.as_secs_f64()
            ),
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
                if matches!(failure.kind, lockship_fuzz::FailureKind::Hang(_)) {
                    // The hung thread cannot be stopped; leave now.
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn export_seeds(t: &Target, dir: &str) -> Result<ExitCode, String> {
    use sha2::Digest;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{dir}`: {e}"))?;
    let seeds = t.seeds();
    for seed in &seeds {
        let name = hex::encode(sha2::Sha256::digest(seed));
        let path = std::path::Path::new(dir).join(&name[..16]);
        std::fs::write(&path, seed)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    println!("{}: {} seeds written to {dir}", t.name, seeds.len());
    Ok(ExitCode::SUCCESS)
}
