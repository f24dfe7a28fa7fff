//! The documentation that is generated from code stays current.

#[test]
fn the_error_table_in_the_docs_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md"))
        .expect("docs/ERRORS.md exists");
    let table = piazza_engine::error::markdown_table();
    assert!(
        doc.contains(&table),
        "docs/ERRORS.md is out of date: run `cargo run -q -p piazza-engine --bin piazza-server -- errors > docs/ERRORS.md`"
    );
}
