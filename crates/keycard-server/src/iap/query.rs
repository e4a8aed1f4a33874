//! IAP list queries: paging (`limit`, `skip`), sorting (`sort`, `order`) and filters (`multiContains`,
//! `multiEquals`, `multiStartsWith`, `equals`/`contains`/`startsWith` with their `...Field`,
//! `inactive`), applied to rendered documents. Every parameter is checked: an unknown name or a
//! malformed value is a 400 that names it.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::IapError;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

/// What one list endpoint accepts.
pub struct ListSpec {
    /// Document fields that may be filtered and sorted on (`_id` is always allowed).
    pub fields: &'static [&'static str],
    /// The field `equals`/`contains`/`startsWith` apply to when no `...Field` is given.
    pub default_field: &'static str,
    /// Endpoint-specific parameters, parsed by the endpoint (`isServiceAccount`, `groupId`, `refresh`).
    pub extras: &'static [&'static str],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equals,
    Contains,
    StartsWith,
}

#[derive(Debug)]
struct Filter {
    field: String,
    op: Op,
    value: String,
}

/// A parsed list query.
#[derive(Debug)]
pub struct ListQuery {
    pub limit: usize,
    pub skip: usize,
    sort: Option<String>,
    descending: bool,
    filters: Vec<Filter>,
    /// Values of the endpoint's extra parameters, by name.
    pub extras: Vec<(String, String)>,
}

fn op_of(name: &str) -> Option<Op> {
    match name {
        "multiEquals" | "equals" => Some(Op::Equals),
        "multiContains" | "contains" => Some(Op::Contains),
        "multiStartsWith" | "startsWith" => Some(Op::StartsWith),
        _ => None,
    }
}

fn number(name: &str, value: &str) -> Result<usize, IapError> {
    value.parse::<usize>().map_err(|_| {
        IapError::bad_request(format!(
            "query parameter `{name}` must be a non-negative integer, not `{value}`"
        ))
    })
}

/// Parses `true` / `false` as IAP clients send them.
pub fn boolean(name: &str, value: &str) -> Result<bool, IapError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(IapError::bad_request(format!(
            "query parameter `{name}` must be `true` or `false`, not `{value}`"
        ))),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl ListSpec {
    fn check_field(&self, parameter: &str, field: &str) -> Result<String, IapError> {
        if field == "_id" || self.fields.contains(&field) {
            Ok(field.to_owned())
        } else {
            Err(IapError::bad_request(format!(
                "`{field}` in `{parameter}` is not a field of this list; use one of `_id`, `{}`",
                self.fields.join("`, `")
            )))
        }
    }

    /// Parses a raw query string.
    pub fn parse(&self, raw: Option<&str>) -> Result<ListQuery, IapError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|err| {
                IapError::bad_request(format!("the query string is malformed: {err}"))
            })?;
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            skip: 0,
            sort: None,
            descending: false,
            filters: Vec::new(),
            extras: Vec::new(),
        };
        let mut single: Vec<(Op, String)> = Vec::new();
        let mut single_fields: Vec<(Op, String)> = Vec::new();
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => {
                    let limit = number(&name, &value)?;
                    if limit == 0 {
                        return Err(IapError::bad_request(
                            "query parameter `limit` must be at least 1",
                        ));
                    }
                    query.limit = limit.min(MAX_LIMIT);
                }
                "skip" => query.skip = number(&name, &value)?,
                "sort" => query.sort = Some(self.check_field(&name, &value)?),
                "order" => {
                    query.descending = match value.as_str() {
                        "1" | "asc" => false,
                        "-1" | "desc" => true,
                        _ => {
                            return Err(IapError::bad_request(format!(
                                "query parameter `order` must be `1` or `-1`, not `{value}`"
                            )));
                        }
                    }
                }
                "inactive" => {
                    let flag = boolean(&name, &value)?;
                    query.filters.push(Filter {
                        field: "inactive".into(),
                        op: Op::Equals,
                        value: flag.to_string(),
                    });
                }
                "multiContains" | "multiEquals" | "multiStartsWith" => {
                    let op = op_of(&name).unwrap_or(Op::Equals);
                    let object: Map<String, Value> = serde_json::from_str(&value)
                        .map_err(|_| IapError::bad_request(format!("query parameter `{name}` must be a JSON object such as {{\"name\":\"x\"}}")))?;
                    for (field, wanted) in object {
                        let field = self.check_field(&name, &field)?;
                        let value = scalar_text(&wanted).ok_or_else(|| {
                            IapError::bad_request(format!(
                                "`{field}` in `{name}` must be a string, number or boolean"
                            ))
                        })?;
                        query.filters.push(Filter { field, op, value });
                    }
                }
                "equals" | "contains" | "startsWith" => {
                    single.push((op_of(&name).unwrap_or(Op::Equals), value))
                }
                "equalsField" | "containsField" | "startsWithField" => {
                    let op = op_of(name.trim_end_matches("Field")).unwrap_or(Op::Equals);
                    single_fields.push((op, self.check_field(&name, &value)?));
                }
                // The login token may ride along in the query.
                "token" => {}
                other => {
                    let bracketed = other
                        .strip_suffix(']')
                        .and_then(|rest| rest.split_once('['));
                    if let Some((outer, field)) = bracketed
                        && let Some(op) = op_of(outer).filter(|_| outer.starts_with("multi"))
                    {
                        let field = self.check_field(outer, field)?;
                        query.filters.push(Filter { field, op, value });
                        continue;
                    }
                    if self.extras.contains(&other) {
                        query.extras.push((name, value));
                        continue;
                    }
                    return Err(IapError::bad_request(format!(
                        "unknown query parameter `{other}`"
                    )));
                }
            }
        }
        for (op, value) in single {
            let field = single_fields
                .iter()
                .find(|(field_op, _)| *field_op == op)
                .map(|(_, field)| field.clone())
                .unwrap_or_else(|| self.default_field.to_owned());
            query.filters.push(Filter { field, op, value });
        }
        if let Some((op, _)) = single_fields
            .iter()
            .find(|(op, _)| !query.filters.iter().any(|f| f.op == *op))
        {
            let name = match op {
                Op::Equals => "equals",
                Op::Contains => "contains",
                Op::StartsWith => "startsWith",
            };
            return Err(IapError::bad_request(format!(
                "`{name}Field` was given without `{name}`"
            )));
        }
        Ok(query)
    }
}

fn text_of(document: &Value, field: &str) -> String {
    document
        .get(field)
        .and_then(scalar_text)
        .unwrap_or_default()
}

impl ListQuery {
    fn matches(&self, document: &Value) -> bool {
        self.filters.iter().all(|filter| {
            let actual = text_of(document, &filter.field);
            match filter.op {
                Op::Equals => actual == filter.value,
                Op::Contains => actual.to_lowercase().contains(&filter.value.to_lowercase()),
                Op::StartsWith => actual
                    .to_lowercase()
                    .starts_with(&filter.value.to_lowercase()),
            }
        })
    }

    /// Filters, sorts and pages documents; returns the page and the exact number of matches.
    pub fn apply(&self, documents: Vec<Value>) -> (Vec<Value>, usize) {
        let mut matching: Vec<Value> = documents
            .into_iter()
            .filter(|document| self.matches(document))
            .collect();
        let sort = self.sort.as_deref().unwrap_or("_id");
        matching.sort_by(|a, b| {
            let order = compare(a.get(sort), b.get(sort))
                .then_with(|| text_of(a, "_id").cmp(&text_of(b, "_id")));
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(self.skip)
            .take(self.limit)
            .collect();
        (page, total)
    }

    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) => a
            .to_lowercase()
            .cmp(&b.to_lowercase())
            .then_with(|| a.cmp(b)),
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (Some(a), Some(b)) => scalar_text(a).cmp(&scalar_text(b)),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ROLES: ListSpec = ListSpec {
        fields: &["name", "provenance", "description"],
        default_field: "name",
        extras: &[],
    };

    fn docs() -> Vec<Value> {
        (0..5).map(|i| json!({"_id": format!("id{i}"), "name": format!("Role {i}"), "provenance": if i % 2 == 0 { "Custom" } else { "App" }, "description": "", "inactive": i == 4})).collect()
    }

    #[test]
    fn filters_in_both_encodings_and_exact_totals() {
        let bracket = ROLES
            .parse(Some(
                "multiContains%5Bname%5D=role&multiEquals%5Bprovenance%5D=Custom&limit=1",
            ))
            .unwrap();
        let json = ROLES.parse(Some("multiContains=%7B%22name%22%3A%22role%22%7D&multiEquals=%7B%22provenance%22%3A%22Custom%22%7D&limit=1")).unwrap();
        for query in [bracket, json] {
            let (page, total) = query.apply(docs());
            assert_eq!(total, 3);
            assert_eq!(page.len(), 1);
        }
        let (page, total) = ROLES
            .parse(Some("sort=name&order=-1&skip=1&limit=2&inactive=false"))
            .unwrap()
            .apply(docs());
        assert_eq!(total, 4);
        assert_eq!(
            page.iter()
                .map(|d| d["name"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["Role 2", "Role 1"]
        );
        let (_, total) = ROLES
            .parse(Some("startsWith=role%203"))
            .unwrap()
            .apply(docs());
        assert_eq!(total, 1);
        let (_, total) = ROLES
            .parse(Some("equals=App&equalsField=provenance"))
            .unwrap()
            .apply(docs());
        assert_eq!(total, 2);
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (query, named) in [
            ("colour=red", "colour"),
            ("limit=ten", "limit"),
            ("order=up", "order"),
            ("sort=colour", "colour"),
            ("multiContains%5Bcolour%5D=x", "colour"),
            ("multiEquals=nope", "multiEquals"),
            ("inactive=maybe", "inactive"),
            ("equalsField=name", "equals"),
        ] {
            let err = ROLES.parse(Some(query)).unwrap_err();
            assert!(err.message.contains(named), "{query}: {}", err.message);
        }
        assert_eq!(ROLES.parse(Some("limit=1000")).unwrap().limit, MAX_LIMIT);
    }
}
