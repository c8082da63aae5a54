//! Just enough JSON to write the log's objects: strings escaped as RFC 8259 says, numbers,
//! and objects and arrays built one field at a time.
//!
//! The log writes JSON and never reads it, so ten lines of escaping beat a serialization
//! framework. Values that are `Display` (addresses, error messages) are escaped as they are
//! formatted, without a copy. Nothing here blocks.

use std::fmt::{self, Display, Write};

/// A JSON object being written: `{"key": value, ...}`.
#[derive(Default)]
pub struct Object {
    text: String,
}

impl Object {
    pub fn new() -> Self {
        Object::default()
    }

    fn key(&mut self, key: &str) -> &mut String {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        write_string(&mut self.text, key);
        self.text.push(':');
        &mut self.text
    }

    /// A string: anything `Display`, escaped.
    pub fn str(&mut self, key: &str, value: impl Display) -> &mut Self {
        write_string(self.key(key), value);
        self
    }

    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// A number; JSON has no NaN or infinity, so those become `null`.
    pub fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        let text = self.key(key);
        if value.is_finite() {
            let _ = write!(text, "{value}");
        } else {
            text.push_str("null");
        }
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A string, or `null` when there is none.
    pub fn opt_str(&mut self, key: &str, value: Option<impl Display>) -> &mut Self {
        match value {
            Some(value) => self.str(key, value),
            None => {
                self.key(key).push_str("null");
                self
            }
        }
    }

    /// A value that is itself JSON, made by this module: an [`Array`] or another [`Object`].
    pub fn json(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.key(key).push_str(&value.into());
        self
    }

    pub fn finish(&mut self) -> String {
        let mut text = std::mem::take(&mut self.text);
        if text.is_empty() {
            text.push('{');
        }
        text.push('}');
        text
    }
}

/// A JSON array of values already written as JSON.
#[derive(Default)]
pub struct Array {
    text: String,
}

impl Array {
    pub fn push(&mut self, value: impl Into<String>) {
        self.text.push(if self.text.is_empty() { '[' } else { ',' });
        self.text.push_str(&value.into());
    }
}

impl From<Array> for String {
    fn from(array: Array) -> String {
        if array.text.is_empty() {
            "[]".into()
        } else {
            array.text + "]"
        }
    }
}

/// `value` as a JSON string, for an [`Array`] of strings.
pub fn string(value: impl Display) -> String {
    let mut out = String::new();
    write_string(&mut out, value);
    out
}

/// Write `value` as a JSON string: quotes, backslashes and control characters escaped.
fn write_string(out: &mut String, value: impl Display) {
    out.push('"');
    let _ = write!(Escaped(out), "{value}");
    out.push('"');
}

/// Escapes whatever is formatted into it.
struct Escaped<'a>(&'a mut String);

impl Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c if u32::from(c) < 0x20 => write!(self.0, "\\u{:04x}", u32::from(c))?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_escape_strings_and_nest() {
        let mut rows = Array::default();
        rows.push(Object::new().u64("id", 1).finish());
        rows.push(Object::new().finish());
        let text = Object::new()
            .str("said", "a \"quote\"\\ and\nlines\u{1}")
            .f64("seconds", 2.5)
            .f64("nan", f64::NAN)
            .bool("ok", true)
            .opt_str("none", None::<&str>)
            .json("rows", rows)
            .json("empty", Array::default())
            .finish();
        assert_eq!(
            text,
            r#"{"said":"a \"quote\"\\ and\nlines\u0001","seconds":2.5,"nan":null,"ok":true,"none":null,"rows":[{"id":1},{}],"empty":[]}"#
        );
    }
}
