//! The source files that declare processing's routes: what the route table (auth.rs) and the
//! OpenAPI check (openapi.rs) read for `.route("…"` calls left outside the documented table.

pub const ROUTE_SOURCES: [&str; 8] = [
    include_str!("../../src/lib.rs"),
    include_str!("../../src/analytics/routes.rs"),
    include_str!("../../src/logs/routes.rs"),
    include_str!("../../src/incidents/routes.rs"),
    include_str!("../../src/trace/routes.rs"),
    include_str!("../../src/console/routes.rs"),
    include_str!("../../src/console/pages.rs"),
    include_str!("../../../../crates/service/src/dead_letter_replay.rs"),
];
