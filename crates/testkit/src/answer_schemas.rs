//! The schemas of a document's success answers say what the answers hold: no object
//! without its fields, no schema that admits anything. What [`crate::check_document`] asks
//! of every service, so that Schemathesis' check of the answers against their schemas
//! checks something.

use serde_json::Value;
use std::collections::BTreeSet;

/// Where a schema sits in its parent: the values of a map may be anything (free-form
/// attributes), nothing else may.
#[derive(Clone, Copy, PartialEq)]
enum Position {
    Answer,
    MapValue,
}

/// Every problem of the 2xx answers' schemas of `document`, one line each, naming the
/// operation and the path to the schema within its answer.
pub fn answer_schema_problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let components = &document["components"]["schemas"];
    let mut seen = BTreeSet::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let answers = operation["responses"].as_object().into_iter().flatten();
            for (code, answer) in answers.filter(|(code, _)| code.starts_with('2')) {
                let contents = answer["content"].as_object().into_iter().flatten();
                for (media_type, content) in contents {
                    let at = format!("{} {path} {code} {media_type}", method.to_uppercase());
                    match content.get("schema") {
                        Some(schema) => {
                            let mut walk = Walk {
                                components,
                                seen: &mut seen,
                                problems: &mut problems,
                            };
                            walk.schema(schema, &at, Position::Answer);
                        }
                        None => problems.push(format!("{at}: no schema")),
                    }
                }
            }
        }
    }
    problems
}

struct Walk<'a> {
    components: &'a Value,
    /// Components checked already: each once, however many answers use it.
    seen: &'a mut BTreeSet<String>,
    problems: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn schema(&mut self, schema: &Value, at: &str, position: Position) {
        let Some(fields) = schema.as_object() else {
            self.problems.push(format!("{at}: not a schema: {schema}"));
            return;
        };
        if let Some(reference) = fields.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/components/schemas/");
            match self.components.get(name) {
                Some(target) => {
                    if self.seen.insert(name.to_owned()) {
                        self.schema(target, &format!("{at} → {name}"), Position::Answer);
                    }
                }
                None => self
                    .problems
                    .push(format!("{at}: {reference} is not in the document")),
            }
            return;
        }
        let says = |key: &str| fields.contains_key(key);
        let composed = says("allOf") || says("oneOf") || says("anyOf");
        let typed = says("type") || says("enum") || says("const");
        if !composed && !typed && position != Position::MapValue {
            self.problems
                .push(format!("{at}: a schema that admits anything: {schema}"));
        }
        let types = match fields.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let properties = fields.get("properties").and_then(Value::as_object);
        let map_values = fields.get("additionalProperties").filter(|v| v.is_object());
        if types.contains(&"object")
            && !composed
            && properties.is_none_or(|p| p.is_empty())
            && map_values.is_none()
        {
            self.problems
                .push(format!("{at}: an object without its fields: {schema}"));
        }
        if let (Some(properties), Some(required)) = (properties, fields.get("required")) {
            for name in required.as_array().into_iter().flatten() {
                if !name.as_str().is_some_and(|n| properties.contains_key(n)) {
                    self.problems
                        .push(format!("{at}: `{name}` is required but not described"));
                }
            }
        }
        if types.contains(&"array") && !says("items") {
            self.problems
                .push(format!("{at}: an array without its items: {schema}"));
        }
        for (name, property) in properties.into_iter().flatten() {
            self.schema(property, &format!("{at}.{name}"), Position::Answer);
        }
        if let Some(items) = fields.get("items") {
            self.schema(items, &format!("{at}[]"), Position::Answer);
        }
        if let Some(values) = map_values {
            self.schema(values, &format!("{at}{{*}}"), Position::MapValue);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for (n, part) in fields
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                self.schema(part, &format!("{at} {key}[{n}]"), Position::Answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(answer: Value, components: Value) -> Value {
        json!({
            "paths": {"/x": {"get": {"responses": {
                "200": {"content": {"application/json": {"schema": answer}}},
                "404": {"content": {"application/json": {"schema": {"type": "object"}}}},
            }}}},
            "components": {"schemas": components},
        })
    }

    #[test]
    fn described_answers_pass() {
        let answer = json!({"$ref": "#/components/schemas/A"});
        let components = json!({
            "A": {"type": "object", "required": ["b", "tags"], "properties": {
                "b": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]},
                "tags": {"type": "object", "additionalProperties": {}},
                "list": {"type": "array", "items": {"type": "integer"}},
            }},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"},
                            {"type": "object", "properties": {"c": {"enum": ["x"]}}}]},
        });
        assert_eq!(
            answer_schema_problems(&document(answer, components)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bare_objects_anything_and_undescribed_fields_are_found_at_any_depth() {
        let answer = json!({"$ref": "#/components/schemas/A"});
        let components = json!({
            "A": {"type": "object", "required": ["gone"], "properties": {
                "bare": {"type": ["object", "null"]},
                "any": {},
                "list": {"type": "array"},
                "deep": {"type": "array", "items": {"$ref": "#/components/schemas/B"}},
                "missing": {"$ref": "#/components/schemas/C"},
            }},
            "B": {"oneOf": [{"type": "object", "properties": {}}]},
        });
        let problems = answer_schema_problems(&document(answer, components));
        let found = |part: &str| problems.iter().any(|p| p.contains(part));
        assert!(found(
            "GET /x 200 application/json → A.bare: an object without"
        ));
        assert!(found("A.any: a schema that admits anything"));
        assert!(found("A.list: an array without its items"));
        assert!(found("A.deep[] → B oneOf[0]: an object without"));
        assert!(found(
            "A.missing: #/components/schemas/C is not in the document"
        ));
        assert!(found("`\"gone\"` is required but not described"));
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn a_bare_answer_is_found_and_error_answers_are_not_checked() {
        let problems = answer_schema_problems(&document(json!({"type": "object"}), json!({})));
        assert_eq!(
            problems,
            [r#"GET /x 200 application/json: an object without its fields: {"type":"object"}"#]
        );
    }
}
