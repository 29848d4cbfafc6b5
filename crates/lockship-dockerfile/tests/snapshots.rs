//! Snapshots of every strategy for the three representative inputs.

mod common;

#[test]
fn dockerfiles() {
    for (name, _, _, r) in common::all_rendered() {
        insta::assert_snapshot!(name, r.dockerfile);
    }
}
