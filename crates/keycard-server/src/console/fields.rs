//! A posted HTML form's fields, in order, with repeated names kept (a multiple `<select>`).

use keycard_core::Error;

pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_urlencoded::from_bytes(body)
            .map(Fields)
            .map_err(|err| Error::invalid("form", err.to_string()))
    }

    /// The first value of a field, if it was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of a field that must be sent and not be blank, trimmed.
    pub fn required(&self, name: &str) -> Result<&str, Error> {
        match self.get(name).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(Error::invalid(name, "is required")),
        }
    }

    /// The value of a field, trimmed, when it is sent and not blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    /// Every value sent under a name, blanks left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_all_kept() {
        let fields = Fields::parse(b"name=ops+team&roles=a&roles=&roles=b&note=+").unwrap();
        assert_eq!(fields.get("name"), Some("ops team"));
        assert_eq!(fields.all("roles"), ["a", "b"]);
        assert_eq!(fields.optional("note"), None);
        assert!(fields.required("missing").is_err());
    }
}
