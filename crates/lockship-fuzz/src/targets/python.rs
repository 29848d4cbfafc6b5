//! Which Python a project asks for: a `.python-version` file and the
//! version constraints of pyproject.toml, Poetry and the locks.

use lockship_python::{
    parse_python_version_file, ConstraintSource, PyVersion, PythonConstraint, PythonRequest,
};

use super::text;

/// A `.python-version` file (uv's and pyenv's format). A request read from
/// it reads back the same from its own text.
pub fn python_version(data: &[u8]) {
    let Some(request) = parse_python_version_file(&text(data)) else {
        return;
    };
    let again = PythonRequest::parse(&request.to_string(), ".python-version")
        .expect("a request's own text parses");
    assert_eq!(again, request, "`{request}` does not read back the same");
    let (major, minor) = request.minor_pair();
    let _ = request.matches(&PyVersion::new(major, minor, 0));
}

/// Where a constraint may come from, each read with its own syntax.
fn sources() -> [ConstraintSource; 4] {
    [
        ConstraintSource::Pyproject,
        ConstraintSource::Poetry,
        ConstraintSource::Lock {
            file: "poetry.lock".into(),
        },
        ConstraintSource::Lock {
            file: "uv.lock".into(),
        },
    ]
}

/// A version constraint (`requires-python`, Poetry's `python`, a lock's
/// `requires-python`), read as each source would, then asked about the
/// versions a build may choose.
pub fn python_constraint(data: &[u8]) {
    let text = text(data);
    for source in sources() {
        let Ok(constraint) = PythonConstraint::parse(source, &text) else {
            continue;
        };
        for minor in [8, 12, 15] {
            let _ = constraint.allows_minor(3, minor);
        }
        let _ = constraint.contains(&PyVersion::new(3, 12, 7));
        let _ = constraint.describe();
    }
}
