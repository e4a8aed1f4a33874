//! The usual evaluation request, read straight from the body with its strings borrowed.
//!
//! Building a `serde_json::Value` tree (a map and a string per member) was about a twentieth of an
//! evaluation request's time under load. This reader takes only what it is sure of: objects where
//! the request must have objects, plain (unescaped) strings where it must have strings, each member
//! once, and a `context` that does not ask for a revision. Anything else makes it give up, and the
//! general reader ([`super::evaluation_from`]) reads the request again: it decides the same, and it
//! is the one that refuses a bad request with a message naming the member. So this reader needs no
//! error of its own, and a request it takes is one the general reader accepts as it.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// An evaluation's members, borrowed from the body.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainEvaluation<'a> {
    pub subject: (&'a str, &'a str),
    pub action: &'a str,
    pub resource: (&'a str, &'a str),
}

/// The evaluation in `body`, when it is the plain kind; `None` sends the request to the general
/// reader.
pub fn plain_evaluation(body: &[u8]) -> Option<PlainEvaluation<'_>> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let evaluation = deserializer.deserialize_map(EvaluationVisitor).ok()?;
    deserializer.end().ok()?;
    Some(evaluation)
}

/// Gives up: the general reader will say what is wrong, if anything is.
fn give_up<E: serde::de::Error>() -> E {
    E::custom("not a plain evaluation")
}

/// Sets a member read once; a second occurrence gives up (the general reader keeps the last).
fn once<T, E: serde::de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(give_up()),
    }
}

struct EvaluationVisitor;

impl<'de> Visitor<'de> for EvaluationVisitor {
    type Value = PlainEvaluation<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an evaluation object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut subject, mut action, mut resource, mut context) = (None, None, None, None);
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "subject" => once(&mut subject, map.next_value_seed(Members::ENTITY)?)?,
                "action" => once(&mut action, map.next_value_seed(Members::ACTION)?)?,
                "resource" => once(&mut resource, map.next_value_seed(Members::ENTITY)?)?,
                "context" => once(&mut context, map.next_value_seed(SkippedObject::CONTEXT)?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (subject, action, resource) {
            (Some(subject), Some((action, _)), Some(resource)) => Ok(PlainEvaluation {
                subject,
                action,
                resource,
            }),
            _ => Err(give_up()),
        }
    }
}

/// The two string members an entity must have: `type` and `id` for a subject or a resource,
/// `name` for an action (whose `type` and `id` are not read). `properties`, when present, must be
/// an object or `null`; other members are skipped.
#[derive(Clone, Copy)]
struct Members {
    first: &'static str,
    second: Option<&'static str>,
}

impl Members {
    const ENTITY: Members = Members {
        first: "type",
        second: Some("id"),
    };
    const ACTION: Members = Members {
        first: "name",
        second: None,
    };
}

impl<'de> DeserializeSeed<'de> for Members {
    type Value = (&'de str, &'de str);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members {
    type Value = (&'de str, &'de str);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut first, mut second) = (None, None);
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == self.first {
                once(&mut first, map.next_value::<&'de str>()?)?;
            } else if Some(key) == self.second {
                once(&mut second, map.next_value::<&'de str>()?)?;
            } else if key == "properties" {
                map.next_value_seed(SkippedObject::PROPERTIES)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match (first, second, self.second) {
            (Some(first), Some(second), Some(_)) => Ok((first, second)),
            (Some(first), _, None) => Ok((first, "")),
            _ => Err(give_up()),
        }
    }
}

/// An object (skipped) or `null`; an object with the member `give_up_on` gives up.
#[derive(Clone, Copy)]
struct SkippedObject {
    give_up_on: Option<&'static str>,
}

impl SkippedObject {
    /// An entity's `properties`.
    const PROPERTIES: SkippedObject = SkippedObject { give_up_on: None };
    /// A `context`: a revision to wait for is the general reader's business.
    const CONTEXT: SkippedObject = SkippedObject {
        give_up_on: Some("keycard_min_revision"),
    };
}

impl<'de> DeserializeSeed<'de> for SkippedObject {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SkippedObject {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if Some(key.as_ref()) == self.give_up_on {
                return Err(give_up());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::authzen::{Evaluation, evaluation_from};

    /// What the general reader makes of a body: the evaluation, or its refusal.
    fn general(body: &str) -> Result<Evaluation, String> {
        match serde_json::from_str(body) {
            Ok(Value::Object(object)) => evaluation_from(&object, &Map::new()),
            _ => Err("not an object".into()),
        }
    }

    #[test]
    fn takes_only_what_the_general_reader_reads_the_same() {
        let plain = json!({
            "subject": {"type": "user", "id": "alice", "properties": {"department": "x"}},
            "action": {"name": "read", "properties": null},
            "resource": {"type": "doc", "id": "d1", "extra": [1, {"a": null}]},
            "context": {"time": "now"},
            "unknown": true
        })
        .to_string();
        let bodies = [
            plain.as_str(),
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":"r"},"context":null}"#,
            // Shapes the plain reader must give up on, for the general reader to decide or refuse.
            r#"{"subject":{"type":"user","id":"\u0061lice"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u","id":"v"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":null},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":["user","u"],"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":["a"],"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":7}}"#,
            r#"{"subject":{"type":"user","id":"u","properties":[]},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a","properties":"x"},"resource":{"type":"t","id":"r"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":"r"},"context":[]}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":"r"},"context":{"keycard_min_revision":3}}"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}} x"#,
            r#"{"subject":{"type":"user","id":"u"},"action":{"name":"a"}}"#,
            r#"{"subject":{"type":"user","id":"u"},"subject":{"type":"user","id":"v"},"action":{"name":"a"},"resource":{"type":"t","id":"r"}}"#,
            r#"[]"#,
            r#""#,
        ];
        let mut taken = 0;
        for body in bodies {
            if let Some(evaluation) = plain_evaluation(body.as_bytes()) {
                taken += 1;
                assert_eq!(
                    general(body).as_ref().map(Evaluation::as_plain),
                    Ok(evaluation),
                    "{body}"
                );
            }
        }
        assert_eq!(taken, 3, "the three plain requests, and only them");
    }
}
