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

#[test]
fn the_protocol_schema_in_the_docs_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.schema.json"))
        .expect("docs/protocol.schema.json exists");
    assert!(
        doc == piazza_engine::protocol::schema::json_schema_text(),
        "docs/protocol.schema.json is out of date: run \
         `cargo run -q -p piazza-engine --bin piazza-server -- schema > docs/protocol.schema.json`"
    );
}

#[test]
fn the_protocol_schema_is_a_valid_json_schema() {
    let schema = piazza_engine::protocol::schema::json_schema();
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("docs/protocol.schema.json is not a valid JSON Schema: {e}");
    }
    for which in ["clientFrame", "serverFrame"] {
        let frames = piazza_engine::protocol::schema::frame_schema(which);
        jsonschema::validator_for(&frames).unwrap_or_else(|e| panic!("the {which} schema compiles: {e}"));
    }
}
