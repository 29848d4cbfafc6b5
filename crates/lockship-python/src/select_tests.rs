//! Unit tests of [`select_python`]: one per rule of issue 13, section 1.

use std::str::FromStr;

use super::*;
use crate::version::ConstraintSource;

fn v(s: &str) -> PyVersion {
    PyVersion::from_str(s).unwrap()
}

fn req(s: &str) -> PythonRequest {
    PythonRequest::parse(s, "test").unwrap()
}

/// Debian's two suites and a few standalone builds, as the build passes them.
fn offers() -> Vec<Offer> {
    let debian = |ver: &str, suite: &str| Offer {
        version: v(ver),
        provider: Provider::Debian {
            suite: suite.into(),
        },
    };
    let standalone = |ver: &str| Offer {
        version: v(ver),
        provider: Provider::Standalone {
            release_tag: "20260814".into(),
        },
    };
    vec![
        debian("3.11.2", "bookworm"),
        debian("3.13.5", "trixie"),
        standalone("3.11.13"),
        standalone("3.12.11"),
        standalone("3.12.7"),
        standalone("3.13.7"),
        standalone("3.14.0"),
        standalone("3.15.0rc1"),
    ]
}

fn pyproject(text: &str) -> PythonConstraint {
    PythonConstraint::pep440(ConstraintSource::Pyproject, text).unwrap()
}

fn all_fit(_: &PyVersion) -> bool {
    true
}

fn choose(inputs: &PythonInputs) -> Result<PythonChoice, PythonError> {
    select_python(inputs, &offers(), &all_fit)
}

#[test]
fn requires_python_313_takes_trixie() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.13,<3.14")],
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.13.5"));
    assert_eq!(
        choice.provider,
        Provider::Debian {
            suite: "trixie".into()
        }
    );
    assert_eq!(
        choice.reason,
        "Python 3.13.5 (requires-python >=3.13,<3.14 in pyproject.toml)"
    );
}

#[test]
fn open_range_takes_the_newest_debian_has_not_the_newest_overall() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.11")],
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.13.5"));
    assert_eq!(choice.provider.source(), PythonSource::Debian);
}

#[test]
fn range_debian_lacks_takes_the_newest_standalone_final() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.14")],
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(
        choice.version,
        v("3.14.0"),
        "a preview is never taken from a range"
    );
    assert_eq!(choice.provider.source(), PythonSource::Standalone);
}

#[test]
fn python_version_file_311_takes_bookworm() {
    let inputs = PythonInputs {
        version_file: Some(req("3.11")),
        constraints: vec![pyproject(">=3.10")],
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.11.2"));
    assert_eq!(
        choice.provider,
        Provider::Debian {
            suite: "bookworm".into()
        }
    );
    assert_eq!(choice.reason, "Python 3.11.2 (3.11 in .python-version)");
    assert_eq!(choice.origin, Some(RequestOrigin::VersionFile));
}

#[test]
fn python_version_file_312_takes_the_newest_standalone_patch() {
    let inputs = PythonInputs {
        version_file: Some(req("3.12")),
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.12.11"));
    assert_eq!(
        choice.provider,
        Provider::Standalone {
            release_tag: "20260814".into()
        }
    );
}

#[test]
fn sources_win_in_order_flag_tool_file() {
    let mut inputs = PythonInputs {
        flag: Some(req("3.12")),
        tool: Some(req("3.13")),
        version_file: Some(req("3.11")),
        ..PythonInputs::default()
    };
    assert_eq!(choose(&inputs).unwrap().minor(), "3.12");
    assert_eq!(
        choose(&inputs).unwrap().reason,
        "Python 3.12.11 (--python 3.12)"
    );
    inputs.flag = None;
    assert_eq!(choose(&inputs).unwrap().minor(), "3.13");
    assert!(choose(&inputs)
        .unwrap()
        .reason
        .contains("python = 3.13 in [tool.lockship]"));
    inputs.tool = None;
    assert_eq!(choose(&inputs).unwrap().minor(), "3.11");
}

#[test]
fn exact_patch_is_taken_from_whoever_has_it() {
    let inputs = PythonInputs {
        flag: Some(req("3.12.7")),
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.12.7"));
    let debian = PythonInputs {
        flag: Some(req("cpython-3.11.2")),
        ..PythonInputs::default()
    };
    assert_eq!(
        choose(&debian).unwrap().provider.source(),
        PythonSource::Debian
    );
}

#[test]
fn exact_patch_no_provider_has_is_an_error_listing_what_exists() {
    let inputs = PythonInputs {
        flag: Some(req("3.11.9")),
        ..PythonInputs::default()
    };
    let err = choose(&inputs).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, PythonError::PatchUnavailable { .. }),
        "{text}"
    );
    assert!(text.contains("`3.11.9`"), "{text}");
    assert!(text.contains("3.11.2 (Debian bookworm)"), "{text}");
    assert!(
        text.contains("3.11.13 (python-build-standalone 20260814)"),
        "{text}"
    );
    assert!(
        !text.contains("3.12"),
        "only the same minor is listed: {text}"
    );
}

#[test]
fn contradictory_request_and_requires_python_name_both() {
    let inputs = PythonInputs {
        version_file: Some(req("3.11")),
        constraints: vec![pyproject(">=3.12")],
        ..PythonInputs::default()
    };
    let err = choose(&inputs).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PythonError::Contradiction { .. }), "{text}");
    assert!(text.contains("3.11 in .python-version"), "{text}");
    assert!(
        text.contains("requires-python >=3.12 in pyproject.toml"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("--python"));
}

#[test]
fn contradictory_exact_patch_and_lock_name_both() {
    let inputs = PythonInputs {
        flag: Some(req("3.12.7")),
        constraints: vec![PythonConstraint::pep440(
            ConstraintSource::Lock {
                file: "uv.lock".into(),
            },
            ">=3.12.8",
        )
        .unwrap()],
        ..PythonInputs::default()
    };
    let text = choose(&inputs).unwrap_err().to_string();
    assert!(text.contains("--python 3.12.7"), "{text}");
    assert!(
        text.contains("requires-python >=3.12.8 in uv.lock"),
        "{text}"
    );
}

#[test]
fn constraints_that_exclude_each_other_are_an_error() {
    let inputs = PythonInputs {
        constraints: vec![
            pyproject(">=3.13"),
            PythonConstraint::poetry(ConstraintSource::Poetry, "~3.11").unwrap(),
        ],
        ..PythonInputs::default()
    };
    let err = choose(&inputs).unwrap_err();
    assert!(matches!(err, PythonError::NoCommonVersion { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("python ~3.11 in [tool.poetry.dependencies]"));
}

#[test]
fn python_source_forces_the_provider() {
    let mut inputs = PythonInputs {
        constraints: vec![pyproject(">=3.13,<3.14")],
        source: Some(PythonSource::Standalone),
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.13.7"));
    assert_eq!(choice.provider.source(), PythonSource::Standalone);
    inputs.source = Some(PythonSource::Debian);
    inputs.constraints = vec![pyproject(">=3.12,<3.13")];
    let err = choose(&inputs).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PythonError::NoProvider { .. }), "{text}");
    assert!(text.contains("from debian"), "{text}");
    assert!(!text.contains("standalone"), "{text}");
    let hint = err.hint().unwrap();
    assert!(hint.contains("--python-mirror"), "{hint}");
    assert!(hint.contains("--base-image python:3.12-slim"), "{hint}");
}

#[test]
fn lock_fit_decides_among_the_range() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.11")],
        ..PythonInputs::default()
    };
    // The lock only has wheels for 3.12 (cp312).
    let only_312 = |v: &PyVersion| v.minor == 12;
    let choice = select_python(&inputs, &offers(), &only_312).unwrap();
    assert_eq!(choice.version, v("3.12.11"));
    let none = |_: &PyVersion| false;
    let err = select_python(&inputs, &offers(), &none).unwrap_err();
    assert!(
        matches!(err, PythonError::NoCompatibleVersion { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("3.13.5 (Debian trixie)"));
}

#[test]
fn an_explicit_request_is_not_second_guessed_by_the_lock() {
    let inputs = PythonInputs {
        flag: Some(req("3.13")),
        ..PythonInputs::default()
    };
    let none = |_: &PyVersion| false;
    assert_eq!(
        select_python(&inputs, &offers(), &none).unwrap().version,
        v("3.13.5")
    );
}

#[test]
fn nothing_declared_takes_the_default_or_the_newest_debian() {
    let inputs = PythonInputs {
        default: Some(req("3.11")),
        ..PythonInputs::default()
    };
    let choice = choose(&inputs).unwrap();
    assert_eq!(choice.version, v("3.11.2"));
    assert_eq!(choice.origin, Some(RequestOrigin::Default));
    let choice = choose(&PythonInputs::default()).unwrap();
    assert_eq!(choice.version, v("3.13.5"));
    assert!(choice.reason.contains("nothing declares a version"));
}

#[test]
fn a_minor_in_preview_takes_its_newest_preview() {
    let inputs = PythonInputs {
        flag: Some(req("3.15")),
        ..PythonInputs::default()
    };
    assert_eq!(choose(&inputs).unwrap().version, v("3.15.0rc1"));
}

#[test]
fn a_minor_nobody_has_names_both_ways_out() {
    let inputs = PythonInputs {
        flag: Some(req("3.9")),
        ..PythonInputs::default()
    };
    let err = choose(&inputs).unwrap_err();
    assert!(matches!(err, PythonError::NoProvider { .. }));
    let hint = err.hint().unwrap();
    assert!(hint.contains("--python-mirror") && hint.contains("python:3.9-slim"));
}

#[test]
fn base_image_python_must_satisfy_the_constraints() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.12")],
        ..PythonInputs::default()
    };
    check_base_python(&inputs, &v("3.12.3"), "python:3.12-slim").unwrap();
    let err = check_base_python(&inputs, &v("3.11.9"), "python:3.11-slim").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`python:3.11-slim`") && text.contains(">=3.12"),
        "{text}"
    );
}

#[test]
fn the_choice_serialises_for_json() {
    let inputs = PythonInputs {
        constraints: vec![pyproject(">=3.13,<3.14")],
        ..PythonInputs::default()
    };
    let json = serde_json::to_value(choose(&inputs).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "version": "3.13.5",
            "provider": {"kind": "debian", "suite": "trixie"},
            "request": null,
            "origin": null,
            "reason": "Python 3.13.5 (requires-python >=3.13,<3.14 in pyproject.toml)"
        })
    );
}

#[test]
fn python_source_parses_and_refuses_others() {
    assert_eq!(
        "standalone".parse::<PythonSource>().unwrap(),
        PythonSource::Standalone
    );
    assert!(matches!(
        "conda".parse::<PythonSource>(),
        Err(PythonError::BadSource { .. })
    ));
}

fn pinned(name: &str, version: &str, texts: &[&str]) -> PythonConstraint {
    let source = ConstraintSource::Package {
        name: name.into(),
        version: version.into(),
    };
    PythonConstraint::any_of(source, texts).unwrap()
}

/// Only Debian's two suites, as the build offers them.
fn debian_offers() -> Vec<Offer> {
    offers()
        .into_iter()
        .filter(|o| o.provider.source() == PythonSource::Debian)
        .collect()
}

#[test]
fn pinned_package_requires_python_moves_off_the_default() {
    // Nothing declares a version, but the pinned Django needs 3.12: the
    // default 3.11 cannot install it, so the newest allowed one is taken,
    // and the package that set the floor is named.
    let inputs = PythonInputs {
        implied: vec![
            pinned("django", "6.0.1", &[">=3.12"]),
            pinned("idna", "3.7", &[">=3.5", ">=3.5"]),
        ],
        default: Some(req("3.11")),
        ..PythonInputs::default()
    };
    assert!(inputs.request().is_none());
    assert!(!inputs.allows_minor(3, 11) && inputs.allows_minor(3, 13));
    let choice = select_python(&inputs, &debian_offers(), &all_fit).unwrap();
    assert_eq!(choice.version, v("3.13.5"));
    assert_eq!(
        choice.reason,
        "Python 3.13.5 (django 6.0.1 requires Python >=3.12; so not the default 3.11)"
    );
}

#[test]
fn pinned_packages_that_allow_the_default_keep_it() {
    let inputs = PythonInputs {
        implied: vec![
            pinned("idna", "3.7", &[">=3.5"]),
            pinned("six", "1.16.0", &[""]),
        ],
        default: Some(req("3.11")),
        ..PythonInputs::default()
    };
    let choice = select_python(&inputs, &debian_offers(), &all_fit).unwrap();
    assert_eq!(choice.version, v("3.11.2"));
    assert_eq!(choice.origin, Some(RequestOrigin::Default));
}

#[test]
fn pinned_package_range_narrows_a_declared_range_and_contradicts_a_request() {
    let declared = PythonInputs {
        constraints: vec![pyproject(">=3.10")],
        implied: vec![pinned("numpy", "1.26.3", &["<3.13,>=3.9"])],
        ..PythonInputs::default()
    };
    let choice = select_python(&declared, &debian_offers(), &all_fit).unwrap();
    assert_eq!(choice.version, v("3.11.2"));
    assert_eq!(
        choice.reason,
        "Python 3.11.2 (requires-python >=3.10 in pyproject.toml; numpy 1.26.3 requires Python <3.13,>=3.9)"
    );
    let asked = PythonInputs {
        flag: Some(req("3.13")),
        ..declared
    };
    let err = select_python(&asked, &debian_offers(), &all_fit).unwrap_err();
    assert!(
        matches!(&err, PythonError::Contradiction { constraint, .. } if constraint.contains("numpy 1.26.3")),
        "{err}"
    );
}

#[test]
fn the_floor_is_named_when_only_the_suites_it_allows_are_offered() {
    // The build reads only the suites the ranges allow, so 3.11 is not
    // offered at all; the package that ruled the default out is still named,
    // and the packages whose range every offer meets are not.
    let inputs = PythonInputs {
        implied: vec![
            pinned("cronsim", "2.7", &[">=3.10"]),
            pinned("django", "6.1", &[">=3.12"]),
        ],
        default: Some(req("3.11")),
        ..PythonInputs::default()
    };
    let only_trixie: Vec<Offer> = debian_offers()
        .into_iter()
        .filter(|o| o.version == v("3.13.5"))
        .collect();
    // With every provider's builds offered, an older one (3.9) that
    // cronsim rules out does not make cronsim the reason either.
    let mut everything = offers();
    everything.push(Offer {
        version: v("3.9.18"),
        provider: Provider::Standalone {
            release_tag: "20260814".into(),
        },
    });
    for offers in [only_trixie, everything] {
        let choice = select_python(&inputs, &offers, &all_fit).unwrap();
        assert_eq!(
            choice.reason,
            "Python 3.13.5 (django 6.1 requires Python >=3.12; so not the default 3.11)"
        );
    }
}
