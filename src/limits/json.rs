//! Parsing a JSON body within a memory budget proportional to its size.
//!
//! A `serde_json::Value` costs 32 bytes per value however short its text: `[0,0,0,...]`
//! spends 2 bytes of body per value and would take 16 times the body (more while vectors
//! grow). [`parse_bounded`] builds the same `Value` but counts what it allocates and stops
//! once that passes [`MEMORY_PER_BODY_BYTE`] times the body plus [`MEMORY_ALLOWANCE`], so a
//! body limit of N bytes bounds the memory a parse takes to about 8 N.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// Bytes of parsed value allowed per byte of body.
pub const MEMORY_PER_BODY_BYTE: usize = 8;
/// Bytes of parsed value allowed whatever the body's size (small documents of many short
/// values are fine).
pub const MEMORY_ALLOWANCE: usize = 1024 * 1024;

/// Why a body was not parsed.
#[derive(Debug)]
pub enum BoundedError {
    /// Not JSON (serde_json's message).
    Syntax(serde_json::Error),
    /// Valid so far, but its values would take more memory than the budget.
    TooManyValues { budget: usize },
}

/// Parses `body` as JSON, refusing one whose values would take more than the budget.
pub fn parse_bounded(body: &[u8]) -> Result<Value, BoundedError> {
    let budget = body
        .len()
        .saturating_mul(MEMORY_PER_BODY_BYTE)
        .saturating_add(MEMORY_ALLOWANCE);
    let left = Cell::new(budget);
    let exceeded = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result = Bounded {
        left: &left,
        exceeded: &exceeded,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match result {
        Ok(value) => Ok(value),
        Err(_) if exceeded.get() => Err(BoundedError::TooManyValues { budget }),
        Err(e) => Err(BoundedError::Syntax(e)),
    }
}

const VALUE_SIZE: usize = std::mem::size_of::<Value>();

#[derive(Clone, Copy)]
struct Bounded<'a> {
    left: &'a Cell<usize>,
    exceeded: &'a Cell<bool>,
}

impl Bounded<'_> {
    fn charge<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.exceeded.set(true);
                Err(E::custom(
                    "the JSON document holds too many values for its size",
                ))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.charge(VALUE_SIZE)?;
        Ok(Value::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.charge(VALUE_SIZE)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.charge(VALUE_SIZE)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.charge(VALUE_SIZE)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.charge(VALUE_SIZE)?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(VALUE_SIZE + v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.charge(VALUE_SIZE + v.len())?;
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(VALUE_SIZE)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.charge(VALUE_SIZE)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // The key and the map's own node share of the entry.
            self.charge::<A::Error>(key.len() + VALUE_SIZE)?;
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_documents_parse_as_serde_json_does() {
        let text =
            r#"{"inputs": {"a": [1, 2.5, -3, "x", true, null, {"b": []}]}, "response": "raw"}"#;
        assert_eq!(
            parse_bounded(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(matches!(
            parse_bounded(b"{\"a\": }"),
            Err(BoundedError::Syntax(_))
        ));
        assert!(matches!(
            parse_bounded(b"{} x"),
            Err(BoundedError::Syntax(_))
        ));
    }

    #[test]
    fn a_body_of_many_tiny_values_is_refused() {
        // 2 bytes of body per value: 16 times the body as `Value`s, over the budget.
        let mut body = b"[0".to_vec();
        for _ in 0..2_000_000 {
            body.extend_from_slice(b",0");
        }
        body.push(b']');
        assert!(matches!(
            parse_bounded(&body),
            Err(BoundedError::TooManyValues { .. })
        ));
        // The same count of values in a long string is fine.
        let long = format!("{{\"v\": \"{}\"}}", "0".repeat(4_000_000));
        assert!(parse_bounded(long.as_bytes()).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever text: the bounded parser agrees with serde_json (or refuses for size).
        #[test]
        fn agrees_with_serde_json(text in "[\\[\\]{}\",:0-9a-z .-]{0,64}") {
            let ours = parse_bounded(text.as_bytes());
            let theirs = serde_json::from_str::<Value>(&text);
            match (ours, theirs) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                (Err(BoundedError::Syntax(_)), Err(_)) => {}
                (ours, theirs) => proptest::prop_assert!(false, "{ours:?} vs {theirs:?}"),
            }
        }
    }
}
