//! Snapshots of the compose file and .dockerignore.

mod common;

#[test]
fn compose_and_dockerignore() {
    for (name, input) in common::inputs() {
        let r = lockship_dockerfile::render(&input, lockship_dockerfile::Strategy::Recommended)
            .unwrap()
            .with_compose(&input, lockship_dockerfile::Strategy::Recommended);
        insta::assert_snapshot!(format!("{name}-compose"), r.compose.unwrap());
        insta::assert_snapshot!(format!("{name}-dockerignore"), r.dockerignore);
    }
}
