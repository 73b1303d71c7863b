//! Keys that route and identify records.
//!
//! * series key `{company}:{source slug}:{object_id}`: every run of one object lands on one
//!   partition, in order, so one processing instance owns that object's history;
//! * record id `{company}:{sequence_id}:{object_id}`: one run, for de-duplication and tracing.

/// Lower-case slug of a connector source: `EasyProjects` → `easyprojects`,
/// `Share Point/Graph` → `share-point-graph`. ASCII letters, digits and `_` are kept;
/// every other run of characters becomes one `-`; leading and trailing `-` are dropped.
pub fn source_slug(source: &str) -> String {
    let mut slug = String::with_capacity(source.len());
    let mut pending_dash = false;
    for c in source.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    slug
}

/// `{company}:{source slug}:{object_id}`; `source_slug` must already be a slug.
pub fn series_key(company: &str, source_slug: &str, object_id: i64) -> String {
    format!("{company}:{source_slug}:{object_id}")
}

/// `{company}:{sequence_id}:{object_id}`.
pub fn record_id(company: &str, sequence_id: &str, object_id: i64) -> String {
    format!("{company}:{sequence_id}:{object_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_of_field_sources() {
        assert_eq!(source_slug("sharepoint_graph"), "sharepoint_graph");
        assert_eq!(source_slug("Efficy"), "efficy");
        assert_eq!(source_slug("EasyProjects"), "easyprojects");
        assert_eq!(source_slug("PowerBI"), "powerbi");
        assert_eq!(source_slug("  Share Point / Graph "), "share-point-graph");
        assert_eq!(source_slug("--"), "");
    }

    #[test]
    fn keys_have_the_documented_shape() {
        assert_eq!(
            series_key("akonovia", "powerbi", 1204),
            "akonovia:powerbi:1204"
        );
        assert_eq!(
            record_id("akonovia", "2025-09-05-16-45", 1204),
            "akonovia:2025-09-05-16-45:1204"
        );
    }
}
