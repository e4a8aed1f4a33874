//! Validated names. A value of one of these types has passed validation; the only way to build one is
//! through [`TryFrom<String>`] (which serde uses too).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Characters that change how text around them is displayed without showing themselves: the
/// bidirectional embeddings, overrides, isolates and marks, and the zero-width characters. In a
/// name they let two different names look alike (`admin` and `nimda` reversed by U+202E).
fn is_invisible_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Rejects empty values, surrounding whitespace, control characters, invisible formatting
/// characters and over-long values.
fn validate_text(
    field: &str,
    value: &str,
    max_chars: usize,
    allow_inner_space: bool,
) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(Error::invalid(
            field,
            format!("`{value}` has leading or trailing whitespace"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    if value.chars().any(is_invisible_formatting) {
        return Err(Error::invalid(
            field,
            "must not contain bidirectional controls or zero-width characters",
        ));
    }
    if !allow_inner_space && value.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            field,
            format!("`{value}` must not contain whitespace"),
        ));
    }
    Ok(())
}

/// What every validated string type offers: reading it, building it only through `check`, and
/// turning it back into a `String`.
macro_rules! validated_string {
    ($name:ident, $check:expr) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                $check(&value)?;
                Ok(Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(value: &str) -> Result<Self, Error> {
                Self::try_from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Hashes and compares as its text (the derives see only the one `String`), so a map
        // keyed by it is looked up by `&str` without validating the text again.
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $inner_space:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        validated_string!($name, |value: &str| validate_text($field, value, $max, $inner_space));
    };
}

validated_name!(
    /// An organization's name, unique across the deployment.
    OrganizationName, "organization name", 200, true
);
validated_name!(
    /// An account's login name, unique within its organization regardless of case.
    Username, "username", 200, false
);
validated_name!(
    /// A group's name, unique within its organization.
    GroupName, "group name", 200, true
);
validated_name!(
    /// A role's name, unique within its organization.
    RoleName, "role name", 200, true
);
validated_name!(
    /// A policy's name, unique within its organization.
    PolicyName, "policy name", 200, true
);
validated_name!(
    /// Where an entity comes from: `Local`, `SAML`, `Custom`, an application's name, ...
    Provenance, "provenance", 200, true
);
validated_name!(
    /// An action that policies bind to roles (`read`, `sync_to`, ...).
    ActionName, "action", 200, false
);

validated_name!(
    /// The type of a resource (`record`, `todo`, `route`, ...).
    ResourceType, "resource type", 512, true
);

/// A resource's id, as the application names it: any text of 1 to 512 characters (as in a policy's attachment) without control
/// characters, except `*`, which in a policy's attachment means every resource of the type.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct ResourceId(String);

validated_string!(ResourceId, validate_resource_id);

/// Checks a resource id: 1 to 512 characters, no control characters, not `*`.
fn validate_resource_id(value: &str) -> Result<(), Error> {
    if value.is_empty() || value.chars().count() > 512 {
        return Err(Error::invalid("resource id", "must be 1 to 512 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "resource id",
            "must not contain control characters",
        ));
    }
    if value == crate::model::ResourceRef::ANY_ID {
        return Err(Error::invalid(
            "resource id",
            "`*` stands for every resource of a type and names none",
        ));
    }
    Ok(())
}

impl Provenance {
    /// `Custom`: what roles made by users come from unless they say otherwise.
    pub fn custom() -> Self {
        Self(crate::model::CUSTOM_PROVENANCE.to_owned())
    }

    /// `Local`: what accounts and groups made here come from unless they say otherwise.
    pub fn local() -> Self {
        Self(crate::model::LOCAL_PROVENANCE.to_owned())
    }
}

/// An email address, unique among an organization's accounts regardless of case. Only its shape is
/// checked: one `@` with text on both sides, no whitespace.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, format = Email)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        validate_text("email", &value, 320, false)?;
        match value.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Self(value))
            }
            _ => Err(Error::invalid(
                "email",
                format!("`{value}` is not an email address"),
            )),
        }
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! validated_text {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        validated_string!($name, $check);

        impl $name {
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }
    };
}

validated_text!(
    /// Free text describing a role or a group: at most 4000 characters, no control characters but
    /// newlines and tabs.
    Description, validate_description
);
validated_text!(
    /// The name an account is shown by (for a service account, its description): at most 200
    /// characters, no control characters.
    FirstName, validate_first_name
);

/// Checks free text such as descriptions: no control characters but newlines and tabs, bounded size.
pub fn validate_description(value: &str) -> Result<(), Error> {
    if value.chars().count() > 4000 {
        return Err(Error::invalid(
            "description",
            "must be at most 4000 characters",
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a first name: at most 200 characters, no control characters.
pub fn validate_first_name(value: &str) -> Result<(), Error> {
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "first name",
            "must be at most 200 characters without control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_bad_input() {
        assert!(RoleName::try_from("").is_err());
        assert!(RoleName::try_from(" admin").is_err());
        assert!(RoleName::try_from("a\u{0}b").is_err());
        assert!(RoleName::try_from("Data Engineer").is_ok());
        assert!(Username::try_from("two words").is_err());
        assert!(Username::try_from("admin@pronghorn").is_ok());
        assert!(Email::try_from("nobody".to_owned()).is_err());
        assert!(Email::try_from("a@b@c".to_owned()).is_err());
        assert!(Email::try_from("ann@example.com".to_owned()).is_ok());
        assert!(RoleName::try_from("x".repeat(201)).is_err());
        for sneaky in ["ad\u{202E}nim", "ad\u{200B}min", "\u{2066}admin\u{2069}x"] {
            assert!(Username::try_from(sneaky).is_err(), "{sneaky:?}");
            assert!(GroupName::try_from(sneaky).is_err(), "{sneaky:?}");
        }
        assert!(RoleName::try_from("مدير").is_ok());
        assert!(ResourceId::try_from("/todos/{todoId}").is_ok());
        assert!(ResourceId::try_from(" spaced id ").is_ok());
        assert!(ResourceId::try_from("*").is_err());
        assert!(ResourceId::try_from("").is_err());
        assert!(ResourceId::try_from("a\nb").is_err());
        assert!(ResourceId::try_from("x".repeat(513)).is_err());
        assert!(ResourceType::try_from("record").is_ok());
        assert!(ResourceType::try_from(" record").is_err());
    }

    #[test]
    fn serde_goes_through_validation() {
        let err = serde_json::from_str::<RoleName>("\"\"").unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }
}
