//! One build of an sdist with no network: pip finds its build requirements
//! in a local directory only, and each one it lacks is fetched there (as a
//! wheel) by a second sandbox that runs pip alone, then the build is tried
//! again.

use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::{make_writable, tail, SdistError, SdistOptions, SdistRequest};
use lockship_runtime::Context;
use lockship_sandbox::Sandbox;

/// One build of an sdist, run with no network, and the fetches of its
/// missing build requirements between tries.
pub(crate) struct OfflineBuild<'a> {
    pub(crate) ctx: &'a Context<'a>,
    pub(crate) options: &'a SdistOptions,
    pub(crate) request: &'a SdistRequest,
    pub(crate) sandbox: &'a Sandbox,
    pub(crate) env: &'a lockship_runtime::buildenv::BuildEnv,
    pub(crate) work: &'a Path,
    pub(crate) log: &'a Path,
    pub(crate) vars: &'a [(String, String)],
}

impl OfflineBuild<'_> {
    /// Runs `pip wheel` until it succeeds, fails for another reason than a
    /// missing build requirement, or asks again for one fetched already.
    pub(crate) fn run(
        &self,
    ) -> Result<Result<lockship_sandbox::Outcome, lockship_sandbox::SandboxError>, SdistError> {
        let OfflineBuild {
            ctx,
            options,
            request,
            sandbox,
            env,
            log,
            ..
        } = *self;
        let python = env.python.binary();
        let sdist_name = &request.filename;
        let vars = self.vars.to_vec();
        // The build runs with no network: pip finds its build requirements in
        // `/build/wheels` only. Each one it lacks is fetched there by a second
        // sandbox that runs nothing but the build environment's own pip,
        // downloading wheels only (no code of any package runs while the
        // network is there), and the build is tried again.
        let wheels = self.work.join("wheels");
        fs_err::create_dir_all(&wheels).map_err(io_err("create", &wheels))?;
        make_writable(self.work)?;
        let mut build_vars = vars.clone();
        build_vars.retain(|(k, _)| !k.starts_with("PIP_INDEX_URL") && k != "PIP_EXTRA_INDEX_URL");
        build_vars.push(("PIP_NO_INDEX".into(), "1".into()));
        build_vars.push(("PIP_FIND_LINKS".into(), "/build/wheels".into()));
        let mut fetched: Vec<String> = Vec::new();
        let outcome = loop {
            let outcome = sandbox.run(&lockship_sandbox::Run {
                root: &env.root,
                binds: vec![lockship_sandbox::Bind::read_write(self.work, "/build")],
                env: build_vars.clone(),
                argv: vec![
                    format!("/usr/bin/{python}"),
                    "-m".into(),
                    "pip".into(),
                    "wheel".into(),
                    "--no-deps".into(),
                    "--wheel-dir".into(),
                    "/build/out".into(),
                    format!("/build/src/{sdist_name}"),
                ],
                chdir: "/build".into(),
                network: lockship_sandbox::Network::None,
                limits: options.limits.clone(),
                log,
            });
            let Ok(done) = &outcome else { break outcome };
            if done.success() {
                break outcome;
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let Some(requirement) = missing_build_requirement(&text) else {
                break outcome;
            };
            if fetched.contains(&requirement) {
                // Fetched, and still not found: pip's own answer stands.
                break outcome;
            }
            if fetched.len() >= MAX_REQUIREMENT_ROUNDS {
                return Err(SdistError::TooManyRequirementRounds {
                    package: request.name.clone(),
                    version: request.version.clone(),
                    rounds: fetched.len(),
                    fetched: fetched.join(", "),
                });
            }
            ctx.reporter.phase(&format!(
                "fetching the build requirement {requirement} of {}",
                request.name
            ));
            fetch_build_requirement(sandbox, env, &python, &vars, &wheels, &requirement, options)
                .map_err(|tail| SdistError::BuildRequirement {
                package: request.name.clone(),
                version: request.version.clone(),
                requirement: requirement.clone(),
                tail,
            })?;
            fetched.push(requirement);
        };
        Ok(outcome)
    }
}

/// How many build requirements one sdist build may fetch, one round each.
const MAX_REQUIREMENT_ROUNDS: usize = 12;

/// The build requirement pip could not find in `/build/wheels`, from its log.
fn missing_build_requirement(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let (_, rest) = line.split_once("No matching distribution found for ")?;
        let requirement = rest.trim();
        (!requirement.is_empty()).then(|| requirement.to_string())
    })
}

/// Downloads `requirement` and its dependencies as wheels into `wheels`,
/// with the build environment's own pip in a sandbox that has the network
/// (and no credential) but runs no package's code: `--only-binary :all:`.
/// On failure, returns the end of pip's log.
fn fetch_build_requirement(
    sandbox: &Sandbox,
    env: &lockship_runtime::buildenv::BuildEnv,
    python: &str,
    vars: &[(String, String)],
    wheels: &Path,
    requirement: &str,
    options: &SdistOptions,
) -> Result<(), String> {
    let mut binds = vec![lockship_sandbox::Bind::read_write(wheels, "/build/wheels")];
    if let Some(ca) = host_ca_bundle() {
        binds.push(lockship_sandbox::Bind::read_only(
            ca,
            "/etc/ssl/certs/ca-certificates.crt",
        ));
    }
    for file in ["/etc/resolv.conf", "/etc/hosts"] {
        if Path::new(file).is_file() {
            binds.push(lockship_sandbox::Bind::read_only(file, file));
        }
    }
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let outcome = sandbox.run(&lockship_sandbox::Run {
        root: &env.root,
        binds,
        env: vars.to_vec(),
        argv: vec![
            format!("/usr/bin/{python}"),
            "-m".into(),
            "pip".into(),
            "download".into(),
            "--only-binary".into(),
            ":all:".into(),
            "--dest".into(),
            "/build/wheels".into(),
            requirement.into(),
        ],
        chdir: "/build/wheels".into(),
        network: lockship_sandbox::Network::Shared,
        limits: options.limits.clone(),
        log: log.path(),
    });
    let text = std::fs::read_to_string(log.path()).unwrap_or_default();
    match outcome {
        Ok(done) if done.success() => Ok(()),
        Ok(_) => Err(tail(&text, 5)),
        Err(e) => Err(e.to_string()),
    }
}

/// The host's CA bundle, as `SSL_CERT_FILE` or the system store names it.
fn host_ca_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            let system = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
            system.is_file().then_some(system)
        })
}

#[cfg(test)]
mod requirement_tests {
    use super::missing_build_requirement;

    #[test]
    fn reads_the_requirement_pip_could_not_find_offline() {
        let log = "Processing ./src/x-1.0.tar.gz\n  Installing build dependencies: started\n  ERROR: Could not find a version that satisfies the requirement setuptools>=40.8.0 (from versions: none)\n  ERROR: No matching distribution found for setuptools>=40.8.0\n";
        assert_eq!(
            missing_build_requirement(log).as_deref(),
            Some("setuptools>=40.8.0")
        );
        assert_eq!(missing_build_requirement("error: gcc failed\n"), None);
    }
}
