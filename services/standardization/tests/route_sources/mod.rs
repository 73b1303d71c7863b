//! The source files that declare standardization's routes: what the route table (auth.rs) and the
//! OpenAPI check (openapi.rs) read for `.route("…"` calls left outside the documented table.

pub const ROUTE_SOURCES: [&str; 2] = [
    include_str!("../../src/lib.rs"),
    include_str!("../../../../crates/service/src/dead_letter_replay.rs"),
];
