//! Streaming input: a STIX bundle, a JSON array of objects, or JSON values one after
//! another (JSON lines), read without ever holding the whole input in memory.
//!
//! Bundles are the hard case: a 1 GB bundle is one JSON value. We drive serde_json's
//! streaming deserializer with a visitor that hands each element of `objects` to a
//! callback as soon as it is parsed, so memory is bounded by the largest single object.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use cairn_stix::SpecVersion;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One object from the input. `index` counts objects from 0 across the whole input.
#[derive(Debug)]
pub struct Item {
    pub index: usize,
    /// The object, or why this element is not one (e.g. it is a number).
    pub value: Result<Value, String>,
    /// The enclosing bundle's `spec_version` (STIX 2.0 bundles carry it), if any.
    pub bundle_spec: Option<SpecVersion>,
}

/// Reading stopped: the input is not well-formed JSON at a position, or the consumer asked to stop.
#[derive(Debug)]
pub enum ReadError {
    Syntax { line: usize, column: usize, message: String, objects_read: usize },
    Io(String),
    Stopped,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Syntax { line, column, message, objects_read } => write!(
                f,
                "input is not valid JSON at line {line}, column {column}: {message} \
                 (after {objects_read} objects; those were processed)"
            ),
            ReadError::Io(e) => write!(f, "cannot read input: {e}"),
            ReadError::Stopped => f.write_str("stopped"),
        }
    }
}

impl std::error::Error for ReadError {}

/// The consumer's answer: keep going or stop reading.
pub type Flow = std::ops::ControlFlow<()>;

struct Sink<'a> {
    next_index: usize,
    stopped: bool,
    f: &'a mut dyn FnMut(Item) -> Flow,
}

impl Sink<'_> {
    fn emit(&mut self, value: Result<Value, String>, bundle_spec: Option<SpecVersion>) -> bool {
        let index = self.next_index;
        self.next_index += 1;
        if (self.f)(Item { index, value, bundle_spec }).is_break() {
            self.stopped = true;
        }
        !self.stopped
    }
}

/// The longest first line we look at to decide whether the input is JSON lines.
const FIRST_LINE_CAP: usize = 64 << 20;

/// Reads every object in `input`, calling `f` for each in order.
///
/// When the first line is a complete STIX object (not a bundle), the input is taken as
/// JSON lines and read line by line: a malformed line becomes a rejected item and reading
/// goes on. Otherwise the input is read as a stream of JSON values (a bundle, an array, or
/// several values), where a syntax error stops reading at its position.
pub fn read_objects(input: impl Read, f: &mut dyn FnMut(Item) -> Flow) -> Result<usize, ReadError> {
    let mut br = BufReader::with_capacity(1 << 20, input);
    let mut first = Vec::new();
    loop {
        let buf = br.fill_buf().map_err(|e| ReadError::Io(e.to_string()))?;
        if buf.is_empty() {
            break;
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        first.extend_from_slice(&buf[..take]);
        br.consume(take);
        if done || first.len() > FIRST_LINE_CAP {
            break;
        }
    }
    let mut sink = Sink { next_index: 0, stopped: false, f };
    let is_line_object = first.ends_with(b"\n")
        && matches!(serde_json::from_slice::<Value>(&first), Ok(Value::Object(ref m))
            if m.get("type").and_then(Value::as_str) != Some("bundle"));
    if is_line_object {
        read_lines(first, br, &mut sink)
    } else {
        read_stream(std::io::Cursor::new(first).chain(br), &mut sink)
    }
}

fn read_lines(first: Vec<u8>, mut br: impl BufRead, sink: &mut Sink<'_>) -> Result<usize, ReadError> {
    let mut line = first;
    let mut line_no = 1usize;
    loop {
        let text = line.trim_ascii();
        if !text.is_empty() {
            let value = match serde_json::from_slice::<Value>(text) {
                Ok(v) => as_object(v),
                Err(e) => Err(format!("line {line_no}: not valid JSON: {}", strip_position(&e.to_string()))),
            };
            if !sink.emit(value, None) {
                return Err(ReadError::Stopped);
            }
        }
        line.clear();
        line_no += 1;
        if br.read_until(b'\n', &mut line).map_err(|e| ReadError::Io(e.to_string()))? == 0 {
            return Ok(sink.next_index);
        }
    }
}

fn read_stream(input: impl Read, sink: &mut Sink<'_>) -> Result<usize, ReadError> {
    let mut de = serde_json::Deserializer::from_reader(input);
    loop {
        match TopLevel(&mut *sink).deserialize(&mut de) {
            Ok(()) => {}
            Err(_) if sink.stopped => return Err(ReadError::Stopped),
            Err(e) if e.is_io() => return Err(ReadError::Io(e.to_string())),
            Err(e) if e.is_eof() && sink.next_index == 0 => {
                return Err(ReadError::Syntax {
                    line: e.line(),
                    column: e.column(),
                    message: "no JSON value (empty input)".into(),
                    objects_read: 0,
                })
            }
            Err(e) => {
                return Err(ReadError::Syntax {
                    line: e.line(),
                    column: e.column(),
                    message: strip_position(&e.to_string()),
                    objects_read: sink.next_index,
                })
            }
        }
        // `end` succeeds only when nothing but whitespace is left; otherwise another
        // top-level value follows (concatenated JSON).
        if de.end().is_ok() {
            return Ok(sink.next_index);
        }
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// A top-level value: a bundle (streamed), an array of objects (streamed) or one object.
struct TopLevel<'a, 'b>(&'a mut Sink<'b>);

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle, a JSON array of STIX objects, or STIX objects one per line")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        stream_elements(self.0, seq, None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut fields = serde_json::Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            let is_bundle = fields.get("type").and_then(Value::as_str) == Some("bundle");
            if key == "objects" && is_bundle && !streamed {
                let spec = fields.get("spec_version").and_then(Value::as_str).and_then(SpecVersion::parse);
                map.next_value_seed(Elements(sink, spec))?;
                streamed = true;
                if sink.stopped {
                    // Skip the rest quickly; the caller reports the stop.
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Err(de::Error::custom("stopped"));
                }
            } else {
                let v: Value = map.next_value()?;
                fields.insert(key, v);
            }
        }
        if streamed {
            return Ok(());
        }
        let obj = Value::Object(fields);
        if obj.get("type").and_then(Value::as_str) == Some("bundle") {
            // A bundle whose `type` came after `objects`: its objects were buffered.
            let spec = obj.get("spec_version").and_then(Value::as_str).and_then(SpecVersion::parse);
            if let Some(Value::Array(items)) = obj.get("objects") {
                for item in items {
                    if !sink.emit(as_object(item.clone()), spec) {
                        return Err(de::Error::custom("stopped"));
                    }
                }
            }
            return Ok(());
        }
        if !sink.emit(Ok(obj), None) {
            return Err(de::Error::custom("stopped"));
        }
        Ok(())
    }
}

fn as_object(v: Value) -> Result<Value, String> {
    if v.is_object() {
        Ok(v)
    } else {
        Err(format!("expected a STIX object (a JSON object), found {}", kind_of(&v)))
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Elements<'a, 'b>(&'a mut Sink<'b>, Option<SpecVersion>);

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the bundle's `objects` array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        stream_elements(self.0, seq, self.1)
    }
}

fn stream_elements<'de, A: SeqAccess<'de>>(
    sink: &mut Sink<'_>,
    mut seq: A,
    spec: Option<SpecVersion>,
) -> Result<(), A::Error> {
    while let Some(v) = seq.next_element::<Value>()? {
        if !sink.emit(as_object(v), spec) {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Items = Vec<(usize, Result<Value, String>)>;

    fn read(s: &str) -> (Items, Result<usize, String>) {
        let mut out = Vec::new();
        let r = read_objects(s.as_bytes(), &mut |item| {
            out.push((item.index, item.value));
            Flow::Continue(())
        });
        (out, r.map_err(|e| e.to_string()))
    }

    #[test]
    fn formats_table() {
        let cases: &[(&str, &str, usize)] = &[
            ("bundle", r#"{"type":"bundle","id":"bundle--x","objects":[{"a":1},{"b":2}]}"#, 2),
            ("bundle, type last", r#"{"objects":[{"a":1},{"b":2},{"c":3}],"id":"b","type":"bundle"}"#, 3),
            ("array", r#"[{"a":1},{"b":2}]"#, 2),
            ("json lines", "{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n", 3),
            ("single object", r#"  {"type":"indicator"}  "#, 1),
            ("two bundles", r#"{"type":"bundle","objects":[{"a":1}]} {"type":"bundle","objects":[{"b":1}]}"#, 2),
            ("empty bundle", r#"{"type":"bundle","id":"bundle--x","objects":[]}"#, 0),
        ];
        for (name, input, n) in cases {
            let (items, r) = read(input);
            assert_eq!(r, Ok(*n), "{name}");
            assert_eq!(items.len(), *n, "{name}");
            assert!(items.iter().enumerate().all(|(i, (idx, v))| i == *idx && v.is_ok()), "{name}");
        }
    }

    #[test]
    fn non_objects_are_items_with_errors() {
        let (items, r) = read(r#"[{"a":1}, 5, "x"]"#);
        assert_eq!(r, Ok(3));
        assert!(items[1].1.as_ref().unwrap_err().contains("a number"));
    }

    #[test]
    fn syntax_errors_name_the_position_and_keep_what_came_before() {
        let (items, r) = read("{\"type\":\"bundle\",\"objects\":[{\"a\":1},\n{\"b\":}]}");
        assert_eq!(items.len(), 1);
        let e = r.unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("after 1 objects"), "{e}");
        let (_, r) = read("");
        assert!(r.unwrap_err().contains("empty input"));
    }

    #[test]
    fn a_bad_json_line_is_one_rejected_item_and_reading_goes_on() {
        let (items, r) = read("{\"a\":1}\n{\"b\":\n{\"c\":3}\n[1]\n");
        assert_eq!(r, Ok(4));
        assert!(items[0].1.is_ok() && items[2].1.is_ok());
        assert!(items[1].1.as_ref().unwrap_err().starts_with("line 2: not valid JSON"), "{:?}", items[1]);
        assert!(items[3].1.as_ref().unwrap_err().contains("an array"));
    }

    #[test]
    fn bundle_spec_version_is_passed_down() {
        let mut specs = Vec::new();
        read_objects(r#"{"type":"bundle","spec_version":"2.0","objects":[{"a":1}]}"#.as_bytes(), &mut |i| {
            specs.push(i.bundle_spec);
            Flow::Continue(())
        })
        .unwrap();
        assert_eq!(specs, vec![Some(SpecVersion::V20)]);
    }
}
