//! Credentials from a Docker credential helper (`credsStore`), against the reference
//! registry with htpasswd auth. Alone in its test binary because it changes `PATH`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use lockship_registry::{Client, PushOptions, RegistryError};

#[test]
fn credentials_from_creds_store_and_cred_helpers() {
    let Some((registry, _)) = Registry::start(false, &[("carol", "helper-pw")]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // Answers only for the registry it is asked about on stdin.
    let script = format!(
        "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{}\" ]; then\n  \
         echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"carol\",\"Secret\":\"helper-pw\"}}'\n\
         else\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        registry.host()
    );
    let helper = bin.join("docker-credential-lockshiptest");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    // Only test in this binary: nothing else reads the environment meanwhile.
    std::env::set_var("PATH", std::env::join_paths(paths).unwrap());

    let image = small_image(dir.path(), "helper", "linux/amd64");
    let target = registry.reference("helped/app:1");
    for config_text in [
        r#"{"auths":{},"credsStore":"lockshiptest"}"#.to_string(),
        format!(
            r#"{{"credHelpers":{{"{}":"lockshiptest"}}}}"#,
            registry.host()
        ),
    ] {
        let config = dir.path().join("config.json");
        std::fs::write(&config, config_text).unwrap();
        let mut opts = options(dir.path());
        opts.docker_config = Some(config);
        let client = Client::new(opts).unwrap();
        let report = client
            .push_image(&image, &target, &PushOptions::default())
            .unwrap();
        assert_eq!(report.digest, image.digest());
    }

    // A store that has nothing for this registry: refused, and the error says where we looked.
    let empty = bin.join("docker-credential-lockshipempty");
    std::fs::write(
        &empty,
        "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"credsStore":"lockshipempty"}"#).unwrap();
    let mut opts = options(dir.path());
    opts.docker_config = Some(config);
    let client = Client::new(opts).unwrap();
    let err = client.fetch_manifest(&target).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                sent_credentials: false,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains(&registry.host()), "{msg}");
    assert!(
        msg.contains("credsStore: `docker-credential-lockshipempty` (nothing)"),
        "{msg}"
    );
    assert!(msg.contains("config.json` auths (no entry)"), "{msg}");
}
