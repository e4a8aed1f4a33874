//! Conditions: a CEL expression a policy's grant may carry, such as
//! `resource.owner == subject.id` or `subject.properties.department == resource.properties.department`.
//!
//! A condition is checked when it is written and compiled once: building a [`Condition`] parses
//! it, refuses a variable other than `subject`, `resource`, `action` and `context`, a function
//! outside a small standard set, and more than [`MAX_COMPREHENSIONS`] comprehensions (`all`,
//! `exists`, `map`, `filter`) or any nested one; so an evaluation costs at most a few passes over
//! the bounded inputs. Evaluation never fails the request: an error (a missing key, a type
//! mismatch) denies, with the error as the reason.
//!
//! What a condition reads:
//! - `subject`: `id`, `type`, `username`, `email`, and `properties`: the request's subject
//!   properties with the account's stored attributes laid over them;
//! - `resource`: `type`, `id`, `owner` (the registered owner's account id, when there is one), and
//!   `properties`: the request's resource properties with the registered resource's attributes
//!   laid over them;
//! - `action`: `name` and `properties`;
//! - `context`: the request's context.
//!
//! Where a stored attribute and a request property share a name, the stored value wins: the
//! directory is the authority on what it holds, and a caller must not be able to claim, say,
//! `role: admin` for a subject the directory knows is not one. A request property adds facts the
//! directory does not have; it never overrides one it has.

use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, IdedExpr};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// The longest condition, in characters.
pub const MAX_CONDITION_CHARS: usize = 4096;
/// The most comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) a condition may hold.
pub const MAX_COMPREHENSIONS: usize = 4;

/// The variables a condition may read.
const VARIABLES: &[&str] = &["subject", "resource", "action", "context"];

/// Type names an expression may mention (`type(x) == string`).
const TYPE_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
];

/// The functions and operators a condition may call: CEL's standard ones that cost no more than
/// a pass over their input.
const FUNCTIONS: &[&str] = &[
    "!_",
    "-_",
    "@in",
    "@not_strictly_false",
    "_!=_",
    "_%_",
    "_&&_",
    "_*_",
    "_+_",
    "_-_",
    "_/_",
    "_<_",
    "_<=_",
    "_==_",
    "_>_",
    "_>=_",
    "_?_:_",
    "_[_]",
    "_||_",
    "bool",
    "bytes",
    "contains",
    "double",
    "endsWith",
    "int",
    "matches",
    "size",
    "startsWith",
    "string",
    "type",
    "uint",
];

/// The standard environment, built once: building it costs more than most evaluations.
static ROOT: LazyLock<cel::Context<'static, 'static>> = LazyLock::new(cel::Context::default);

/// A checked, compiled condition. Equal when their sources are.
#[derive(Clone)]
pub struct Condition {
    source: Arc<str>,
    program: Arc<cel::Program>,
    /// What it reads, for explanations: each path compiled on its own.
    reads: Arc<[Read]>,
    /// It reads `resource.properties` (or the whole `resource`).
    reads_resource_properties: bool,
    /// It holds only for a resource the subject owns.
    requires_ownership: bool,
}

/// A path a condition reads (`resource.owner`, `subject.properties.department`), compiled.
struct Read {
    path: String,
    program: cel::Program,
}

/// A value a condition read, as an explanation shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadValue {
    /// The path, as the condition spells it: `resource.owner`, `subject.properties.department`.
    pub path: String,
    /// Its value; absent when neither the store nor the request has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl Condition {
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it holds only for a resource the subject owns: it is `resource.owner ==
    /// subject.id`, or a conjunction with that as one of its terms. A search skips the resources
    /// the subject does not own without evaluating it.
    pub fn requires_ownership(&self) -> bool {
        self.requires_ownership
    }

    /// Whether it reads the resource's `properties`: when it does not, a resource's stored
    /// attributes need not be read to evaluate it.
    pub fn reads_resource_properties(&self) -> bool {
        self.reads_resource_properties
    }

    /// Evaluates the condition against one resource: `Ok(true)` grants, `Ok(false)` does not,
    /// `Err` (why it could not be evaluated) does not either.
    pub fn evaluate(&self, bindings: &Bindings, resource: cel::Value) -> Result<bool, String> {
        let scope = bindings.with_resource(resource);
        match self.program.execute(&scope) {
            Ok(cel::Value::Bool(result)) => Ok(result),
            Ok(other) => Err(format!("the condition gave {other:?}, not a boolean")),
            Err(err) => Err(err.to_string()),
        }
    }

    /// The values the condition reads about one resource, in the order of their paths: what an
    /// explanation shows beside the outcome. Only explanations ask, so checks never pay for it.
    pub fn read_values(&self, bindings: &Bindings, resource: cel::Value) -> Vec<ReadValue> {
        let scope = bindings.with_resource(resource);
        self.reads
            .iter()
            .map(|read| ReadValue {
                path: read.path.clone(),
                value: read
                    .program
                    .execute(&scope)
                    .ok()
                    .and_then(|value| value.json().ok()),
            })
            .collect()
    }
}

/// What conditions read of the subject, the action and the context (see the module's
/// documentation), bound once for every evaluation about them: handing a value to CEL costs more
/// than most evaluations, so a search over many resources binds these once and only `resource`
/// for each.
pub struct Bindings {
    scope: cel::Context<'static, 'static>,
}

impl Bindings {
    pub fn new(subject: cel::Value, action: cel::Value, context: cel::Value) -> Self {
        let mut scope = ROOT.new_inner_scope();
        scope.add_variable_from_value("subject", subject);
        scope.add_variable_from_value("action", action);
        scope.add_variable_from_value("context", context);
        Self { scope }
    }

    /// The scope a condition runs in about one resource.
    fn with_resource(&self, resource: cel::Value) -> cel::Context<'_, 'static> {
        let mut scope = self.scope.new_inner_scope();
        scope.add_variable_from_value("resource", resource);
        scope
    }
}

/// A CEL object (a map with string keys) of `members`.
pub fn object<'a>(members: impl IntoIterator<Item = (&'a str, cel::Value)>) -> cel::Value {
    let map: std::collections::HashMap<cel::objects::Key, cel::Value> = members
        .into_iter()
        .map(|(key, value)| (cel::objects::Key::from(key.to_owned()), value))
        .collect();
    cel::Value::from(map)
}

/// A JSON value as CEL reads it.
pub fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(flag) => cel::Value::Bool(*flag),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => cel::Value::Int(int),
            (None, Some(uint), _) => cel::Value::UInt(uint),
            (None, None, Some(float)) => cel::Value::Float(float),
            (None, None, None) => cel::Value::Null,
        },
        Value::String(text) => cel::Value::String(Arc::new(text.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(members) => object(members.iter().map(|(k, v)| (k.as_str(), to_cel(v)))),
    }
}

/// `properties` laid under `stored`, as CEL reads them: every stored key, and the request's keys
/// the store lacks.
pub fn overlay(properties: Option<&Map<String, Value>>, stored: &Map<String, Value>) -> cel::Value {
    let request = properties
        .into_iter()
        .flatten()
        .filter(|(key, _)| !stored.contains_key(*key));
    object(
        stored
            .iter()
            .chain(request)
            .map(|(key, value)| (key.as_str(), to_cel(value))),
    )
}

impl TryFrom<String> for Condition {
    type Error = Error;

    fn try_from(source: String) -> Result<Self, Error> {
        if source.trim().is_empty() {
            return Err(Error::invalid("condition", "must not be empty"));
        }
        if source.chars().count() > MAX_CONDITION_CHARS {
            return Err(Error::invalid(
                "condition",
                format!("must be at most {MAX_CONDITION_CHARS} characters"),
            ));
        }
        let program = cel::Program::compile(&source).map_err(|errors| {
            let first = errors
                .errors
                .first()
                .map(|err| {
                    format!(
                        "{} at line {}, column {}",
                        err.msg,
                        err.pos.0,
                        err.pos.1 + 1
                    )
                })
                .unwrap_or_else(|| errors.to_string());
            Error::invalid("condition", format!("`{source}` does not parse: {first}"))
        })?;
        let references = program.references();
        if let Some(function) = references
            .functions()
            .into_iter()
            .find(|function| !FUNCTIONS.contains(function))
        {
            return Err(Error::invalid(
                "condition",
                format!("`{function}` is not a function conditions may call"),
            ));
        }
        let mut check = Check::default();
        check.walk(program.expression(), &mut Vec::new(), 0)?;
        if check.comprehensions > MAX_COMPREHENSIONS {
            return Err(Error::invalid(
                "condition",
                format!("holds more than {MAX_COMPREHENSIONS} comprehensions"),
            ));
        }
        let reads_resource_properties = check.reads_resource_properties();
        let requires_ownership = requires_ownership(program.expression());
        let reads = check
            .read_paths()
            .into_iter()
            .map(|path| {
                cel::Program::compile(&path)
                    .map(|program| Read { path, program })
                    .map_err(|err| Error::Internal(format!("a condition's read path: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            source: source.into(),
            program: Arc::new(program),
            reads: reads.into(),
            reads_resource_properties,
            requires_ownership,
        })
    }
}

/// What the walk over a condition's expression found.
#[derive(Default)]
struct Check {
    comprehensions: usize,
    /// Every path rooted at a variable, prefixes included.
    paths: std::collections::BTreeSet<String>,
    /// How often `resource` is named, and how often as the operand of a member (`resource.x`,
    /// `resource["x"]`): more names than members means it is also read whole.
    resource_names: usize,
    resource_members: usize,
}

/// Whether `expr` is true only when `resource.owner == subject.id`: it is that comparison (either
/// way round), or a conjunction with such a term. A conjunction with a false or failing term is
/// never true, so the other terms do not matter.
fn requires_ownership(expr: &IdedExpr) -> bool {
    let Expr::Call(call) = &expr.expr else {
        return false;
    };
    match (call.func_name.as_str(), call.args.as_slice()) {
        ("_&&_", [left, right]) => requires_ownership(left) || requires_ownership(right),
        ("_==_", [left, right]) => {
            let paths = (path_of(left, &[]), path_of(right, &[]));
            matches!(
                (paths.0.as_deref(), paths.1.as_deref()),
                (Some("resource.owner"), Some("subject.id"))
                    | (Some("subject.id"), Some("resource.owner"))
            )
        }
        _ => false,
    }
}

/// The operand of a member read (`a.b`, `a["b"]`), when `expr` is one.
fn member_operand(expr: &IdedExpr) -> Option<&IdedExpr> {
    match &expr.expr {
        Expr::Select(select) => Some(&select.operand),
        Expr::Call(call) if call.func_name == "_[_]" && call.target.is_none() => {
            match call.args.get(1).map(|key| &key.expr) {
                Some(Expr::Literal(cel::common::ast::LiteralValue::String(_))) => call.args.first(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The path `expr` spells when it reads a variable: `subject`, `resource.owner`,
/// `resource.properties["cost center"]` (`has(resource.owner)` reads `resource.owner`); `None` for
/// anything else.
fn path_of(expr: &IdedExpr, bound: &[&str]) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name)
            if VARIABLES.contains(&name.as_str()) && !bound.contains(&name.as_str()) =>
        {
            Some(name.clone())
        }
        Expr::Select(select) => {
            path_of(&select.operand, bound).map(|path| format!("{path}.{}", select.field))
        }
        Expr::Call(call) if call.func_name == "_[_]" && call.target.is_none() => {
            match (call.args.first(), call.args.get(1)) {
                (Some(operand), Some(key)) => match &key.expr {
                    Expr::Literal(cel::common::ast::LiteralValue::String(key)) => {
                        let key = serde_json::to_string(key.inner()).ok()?;
                        path_of(operand, bound).map(|path| format!("{path}[{key}]"))
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

impl Check {
    /// Whether the expression reads the resource's `properties`, or the whole resource.
    fn reads_resource_properties(&self) -> bool {
        self.resource_names > self.resource_members
            || self.paths.iter().any(|path| {
                path.starts_with("resource.properties")
                    || path.starts_with("resource[\"properties\"]")
            })
    }

    /// The longest paths read: a path that another extends is left out.
    fn read_paths(&self) -> Vec<String> {
        let extended = |path: &String| {
            self.paths.iter().any(|other| {
                other.len() > path.len()
                    && other.starts_with(path.as_str())
                    && matches!(other.as_bytes().get(path.len()), Some(b'.' | b'['))
            })
        };
        self.paths
            .iter()
            .filter(|path| !extended(path))
            .cloned()
            .collect()
    }

    /// Checks every free variable (names bound by an enclosing comprehension are in `bound`), and
    /// counts comprehensions, refusing one inside another (`depth` is how many enclose this one).
    fn walk<'e>(
        &mut self,
        expr: &'e IdedExpr,
        bound: &mut Vec<&'e str>,
        depth: usize,
    ) -> Result<(), Error> {
        if let Some(path) = path_of(expr, bound) {
            if path == "resource" {
                self.resource_names += 1;
            }
            self.paths.insert(path);
        }
        if member_operand(expr)
            .and_then(|operand| path_of(operand, bound))
            .as_deref()
            == Some("resource")
        {
            self.resource_members += 1;
        }
        match &expr.expr {
            Expr::Ident(name) => {
                let name = name.as_str();
                if !bound.contains(&name)
                    && !VARIABLES.contains(&name)
                    && !TYPE_NAMES.contains(&name)
                {
                    return Err(Error::invalid(
                        "condition",
                        format!(
                            "`{name}` is unknown: a condition reads `subject`, `resource`, `action` and `context`"
                        ),
                    ));
                }
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target, bound, depth)?;
                }
                for arg in &call.args {
                    self.walk(arg, bound, depth)?;
                }
            }
            Expr::Select(select) => self.walk(&select.operand, bound, depth)?,
            Expr::List(list) => {
                for element in &list.elements {
                    self.walk(element, bound, depth)?;
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(entry) = &entry.expr {
                        self.walk(&entry.key, bound, depth)?;
                        self.walk(&entry.value, bound, depth)?;
                    }
                }
            }
            Expr::Struct(_) => {
                return Err(Error::invalid(
                    "condition",
                    "message literals are not available in conditions",
                ));
            }
            Expr::Comprehension(comprehension) => {
                if depth > 0 {
                    return Err(Error::invalid(
                        "condition",
                        "a comprehension (`all`, `exists`, `map`, `filter`) may not hold another",
                    ));
                }
                self.comprehensions += 1;
                self.walk(&comprehension.iter_range, bound, depth)?;
                self.walk(&comprehension.accu_init, bound, depth)?;
                let before = bound.len();
                bound.push(&comprehension.iter_var);
                if let Some(second) = &comprehension.iter_var2 {
                    bound.push(second);
                }
                bound.push(&comprehension.accu_var);
                for part in [
                    &comprehension.loop_cond,
                    &comprehension.loop_step,
                    &comprehension.result,
                ] {
                    self.walk(part, bound, depth + 1)?;
                }
                bound.truncate(before);
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
        Ok(())
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Condition {}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl From<Condition> for String {
    fn from(condition: Condition) -> String {
        condition.source.to_string()
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Condition::try_from(source).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Condition {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(MAX_CONDITION_CHARS))
            .description(Some(
                "A CEL expression over `subject`, `resource`, `action` and `context`.",
            ))
            .examples([serde_json::json!("resource.owner == subject.id")])
            .into()
    }
}

impl utoipa::ToSchema for Condition {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(source: &str) -> Result<Condition, String> {
        Condition::try_from(source.to_owned()).map_err(|err| err.to_string())
    }

    /// Evaluates `condition` over the four variables.
    fn run(
        condition: &Condition,
        (subject, resource, action, context): &(Value, Value, Value, Value),
    ) -> Result<bool, String> {
        let bindings = Bindings::new(to_cel(subject), to_cel(action), to_cel(context));
        condition.evaluate(&bindings, to_cel(resource))
    }

    fn input(
        subject: Value,
        resource: Value,
        action: Value,
        context: Value,
    ) -> (Value, Value, Value, Value) {
        (subject, resource, action, context)
    }

    #[test]
    fn conditions_evaluate_over_the_four_variables() {
        let owner = condition("resource.owner == subject.id").unwrap();
        let same = input(
            json!({"id": "a"}),
            json!({"owner": "a"}),
            json!({}),
            json!({}),
        );
        let other = input(
            json!({"id": "a"}),
            json!({"owner": "b"}),
            json!({}),
            json!({}),
        );
        assert_eq!(run(&owner, &same), Ok(true));
        assert_eq!(run(&owner, &other), Ok(false));

        let rich = condition(
            "subject.properties.department == resource.properties.department \
             && action.properties.soft == true && context.ip.startsWith('10.') \
             && resource.properties.tags.exists(t, t == 'x') && size(subject.id) > 0",
        )
        .unwrap();
        let facts = input(
            json!({"id": "a", "properties": {"department": "Sales"}}),
            json!({"properties": {"department": "Sales", "tags": ["y", "x"]}}),
            json!({"name": "delete", "properties": {"soft": true}}),
            json!({"ip": "10.0.0.1"}),
        );
        assert_eq!(run(&rich, &facts), Ok(true));
    }

    /// An explanation shows the longest paths a condition reads, presence tests included, with
    /// their values, and leaves out comprehension variables.
    #[test]
    fn a_condition_tells_the_values_it_read() {
        let read = condition(
            "resource.owner == subject.id || (has(resource.properties.level) \
             && resource.properties[\"cost center\"] == subject.properties.dept \
             && context.tags.exists(t, t == action.name))",
        )
        .unwrap();
        let bindings = Bindings::new(
            to_cel(&json!({"id": "a", "properties": {"dept": "ops"}})),
            to_cel(&json!({"name": "edit"})),
            to_cel(&json!({"tags": ["edit"]})),
        );
        let values = read.read_values(
            &bindings,
            to_cel(&json!({"owner": null, "properties": {"cost center": "ops"}})),
        );
        let shown: Vec<(&str, Option<&Value>)> = values
            .iter()
            .map(|read| (read.path.as_str(), read.value.as_ref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("action.name", Some(&json!("edit"))),
                ("context.tags", Some(&json!(["edit"]))),
                ("resource.owner", Some(&Value::Null)),
                ("resource.properties.level", None),
                ("resource.properties[\"cost center\"]", Some(&json!("ops"))),
                ("subject.id", Some(&json!("a"))),
                ("subject.properties.dept", Some(&json!("ops"))),
            ]
        );
    }

    /// Ownership is required exactly when the owner comparison is a term of a conjunction, and
    /// then a resource owned by someone else, or by no one, never passes.
    #[test]
    fn a_condition_knows_whether_it_requires_ownership() {
        for (source, requires) in [
            ("resource.owner == subject.id", true),
            ("subject.id == resource.owner && context.ok == true", true),
            (
                "context.ok == true && (action.name == 'x' && resource.owner == subject.id)",
                true,
            ),
            ("resource.owner == subject.id || context.ok == true", false),
            ("!(resource.owner == subject.id)", false),
            ("resource.owner != subject.id", false),
            ("resource.owner == subject.username", false),
        ] {
            let compiled = condition(source).unwrap();
            assert_eq!(compiled.requires_ownership(), requires, "{source}");
            if requires {
                let facts = |owner: Value| {
                    input(
                        json!({"id": "me", "username": "me"}),
                        json!({"owner": owner}),
                        json!({"name": "x"}),
                        json!({"ok": true}),
                    )
                };
                assert_eq!(run(&compiled, &facts(json!("me"))), Ok(true), "{source}");
                for other in [json!("you"), Value::Null] {
                    assert_ne!(run(&compiled, &facts(other)), Ok(true), "{source}");
                }
            }
        }
    }

    /// Stored attributes are read for a condition only when it may read them.
    #[test]
    fn a_condition_knows_whether_it_reads_the_resource_properties() {
        for (source, reads) in [
            ("resource.owner == subject.id", false),
            ("has(resource.owner) && resource.type == 'doc'", false),
            ("resource[\"owner\"] == subject.id", false),
            ("resource.properties.level > 2", true),
            ("resource[\"properties\"].level > 2", true),
            ("has(resource.properties.level)", true),
            ("resource.owner == subject.id || size(resource) > 0", true),
            ("[resource].exists(r, r.owner == subject.id)", true),
            (
                "resource.owner == subject.id && resource[context.key] == 1",
                true,
            ),
            (
                "[1].exists(resource, resource == 1) && subject.id == 'a'",
                false,
            ),
        ] {
            assert_eq!(
                condition(source).unwrap().reads_resource_properties(),
                reads,
                "{source}"
            );
        }
    }

    #[test]
    fn an_evaluation_error_is_a_reason_not_a_grant() {
        let missing = condition("resource.properties.status == 'active'").unwrap();
        let facts = input(json!({}), json!({"properties": {}}), json!({}), json!({}));
        assert!(run(&missing, &facts).is_err());
        let not_bool = condition("subject.id").unwrap();
        let facts = input(json!({"id": "a"}), json!({}), json!({}), json!({}));
        assert!(
            run(&not_bool, &facts)
                .unwrap_err()
                .contains("not a boolean")
        );
        // `has` tests for a key without failing.
        let guarded =
            condition("has(resource.properties.status) && resource.properties.status == 'x'")
                .unwrap();
        let facts = input(json!({}), json!({"properties": {}}), json!({}), json!({}));
        assert_eq!(run(&guarded, &facts), Ok(false));
    }

    #[test]
    fn bad_conditions_are_refused_when_written() {
        for (bad, says) in [
            ("", "must not be empty"),
            ("subject.id ==", "does not parse"),
            ("user.id == 'a'", "`user` is unknown"),
            ("now() > 1", "`now` is not a function"),
            (
                "subject.roles.all(r, resource.tags.exists(t, t == r))",
                "may not hold another",
            ),
            (
                "[1].all(a, a > 0) && [1].all(b, b > 0) && [1].all(c, c > 0) && [1].all(d, d > 0) && [1].all(e, e > 0)",
                "more than 4 comprehensions",
            ),
        ] {
            let err = condition(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(condition(&"a".repeat(MAX_CONDITION_CHARS + 1)).is_err());
        // Names a comprehension binds are not free variables.
        assert!(condition("subject.properties.groups.exists(g, g == 'x')").is_ok());
        assert!(condition("type(subject.id) == string").is_ok());
        assert!(condition("subject.username.matches('^a.*$')").is_ok());
    }

    #[test]
    fn the_stored_value_wins_over_the_request_property() {
        let stored = json!({"role": "member", "department": "Legal"});
        let properties = json!({"role": "admin", "level": 3});
        let merged = overlay(properties.as_object(), stored.as_object().unwrap());
        assert_eq!(
            merged,
            to_cel(&json!({"role": "member", "department": "Legal", "level": 3}))
        );
    }

    #[test]
    fn conditions_serialize_as_their_source() {
        let parsed: Condition = serde_json::from_value(json!("subject.id == 'a'")).unwrap();
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!("subject.id == 'a'")
        );
        assert!(serde_json::from_value::<Condition>(json!("nope(")).is_err());
    }
}
