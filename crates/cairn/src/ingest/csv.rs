//! CSV indicators, as Sentinel's "Import using a file" templates lay them out, turned
//! into STIX 2.1 indicators for the pipeline.
//!
//! Columns are matched by name, ignoring case, spaces and underscores, in any order:
//! `observableType` + `observableValue` (the "all other indicator types" template), or
//! hash columns (`MD5`, `SHA1`, `SHA256`, `SHA512`, or `fileHashType` + `fileHashValue`)
//! for file indicators; `validFrom` is required; `threatTypes`, `tags`, `name`,
//! `description`, `confidence`, `revoked`, `validUntil`, `tlpLevel` and `severity` are
//! optional. List cells (`threatTypes`, `tags`) separate items with `,` or `;`. Lines
//! starting with `#` are comments (the templates ship with one).
//!
//! Key design decision: an indicator's id is derived from the source and the observable
//! (UUIDv5), so importing the same file again makes new versions of the same
//! indicators instead of duplicates.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

/// Identifies CSV-imported indicators (UUIDv5 namespace).
const NAMESPACE: uuid::Uuid = uuid::uuid!("0f8c2a6e-5d1b-4e7a-9c3f-2b6d8e4a1c70");

/// One CSV row: the STIX object made from it, or why none could be.
pub struct Row {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub object: Result<Value, String>,
}

/// The columns this importer understands, by normalised name.
const COLUMNS: &[&str] = &[
    "threattypes", "tags", "name", "description", "confidence", "revoked", "validfrom", "validuntil", "tlplevel",
    "severity", "observabletype", "observablevalue", "md5", "sha1", "sha256", "sha512", "filehashtype",
    "filehashvalue", "filename",
];

fn normalise(h: &str) -> String {
    h.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

/// Reads every row. A header without the required columns is an error for the whole
/// file; a bad row is an error for that row only.
pub fn read(input: impl std::io::Read, source: &str, now: &str) -> Result<Vec<Row>, String> {
    let mut r =
        ::csv::ReaderBuilder::new().comment(Some(b'#')).flexible(true).trim(::csv::Trim::All).from_reader(input);
    let headers = r.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let n = normalise(h);
        if !COLUMNS.contains(&n.as_str()) {
            return Err(format!(
                "CSV header: unknown column '{h}'; the columns are those of Sentinel's templates: \
                 threatTypes, tags, name, description, confidence, revoked, validFrom, validUntil, tlpLevel, \
                 severity, observableType, observableValue (or MD5, SHA1, SHA256, SHA512 / fileHashType, fileHashValue)"
            ));
        }
        at.insert(n, i);
    }
    if !at.contains_key("validfrom") {
        return Err("CSV header: the validFrom column is required".into());
    }
    let file_template = ["md5", "sha1", "sha256", "sha512", "filehashvalue"].iter().any(|c| at.contains_key(*c));
    let observable = at.contains_key("observabletype") && at.contains_key("observablevalue");
    if !(file_template || observable) {
        return Err("CSV header: name the observable with observableType and observableValue (or hash columns for file indicators)".into());
    }
    let mut rows = Vec::new();
    for record in r.records() {
        let (line, object) = match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                (line, row(&Cells { at: &at, rec: &rec }, source, now))
            }
            Err(e) => (e.position().map_or(0, |p| p.line()), Err(format!("unreadable CSV: {e}"))),
        };
        rows.push(Row { line, object });
    }
    Ok(rows)
}

/// One record's cells by normalised column name; empty cells are absent.
struct Cells<'a> {
    at: &'a HashMap<String, usize>,
    rec: &'a ::csv::StringRecord,
}

impl Cells<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.at.get(column).and_then(|i| self.rec.get(*i)).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn list(cell: Option<&str>) -> Vec<String> {
    cell.map(|c| c.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// A STIX string literal: quotes and backslashes escaped.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn time(cell: Option<&str>, column: &str) -> Result<Option<String>, String> {
    match cell {
        None => Ok(None),
        Some(t) => cairn_condition::parse_time(t)
            .map(|m| Some(cairn_stix::Timestamp::from_unix_micros(m).format_digits(3)))
            .map_err(|e| format!("{column}: {e}")),
    }
}

/// The pattern for the row's observable.
fn pattern(cells: &Cells<'_>) -> Result<(String, String), String> {
    let cell = |c: &str| cells.get(c);
    let mut hashes = Vec::new();
    for (col, algo) in [("md5", "MD5"), ("sha1", "'SHA-1'"), ("sha256", "'SHA-256'"), ("sha512", "'SHA-512'")] {
        if let Some(v) = cell(col) {
            hashes.push(format!("file:hashes.{algo} = {}", literal(v)));
        }
    }
    if let Some(v) = cell("filehashvalue") {
        let algo = match cell("filehashtype").map(normalise).as_deref() {
            Some("md5") => "MD5",
            Some("sha1") => "'SHA-1'",
            Some("sha256") | None => "'SHA-256'",
            Some("sha512") => "'SHA-512'",
            Some(other) => return Err(format!("fileHashType: '{other}' is not one of MD5, SHA1, SHA256, SHA512")),
        };
        hashes.push(format!("file:hashes.{algo} = {}", literal(v)));
    }
    if !hashes.is_empty() {
        let value = cell("sha256").or(cell("filehashvalue")).or(cell("sha1")).or(cell("md5")).or(cell("sha512"));
        return Ok((format!("[{}]", hashes.join(" OR ")), value.unwrap_or_default().to_string()));
    }
    let kind = cell("observabletype").ok_or("observableType: required")?;
    let value = cell("observablevalue").ok_or("observableValue: required")?;
    let key = match normalise(kind).as_str() {
        "ipv4addr" | "ipv4" | "ip" => "ipv4-addr:value",
        "ipv6addr" | "ipv6" => "ipv6-addr:value",
        "domainname" | "domain" => "domain-name:value",
        "url" | "uri" => "url:value",
        "emailaddr" | "email" => "email-addr:value",
        "filename" => "file:name",
        "file" => "file:hashes.'SHA-256'",
        _ => {
            return Err(format!(
                "observableType: '{kind}' is not one of ipv4-addr, ipv6-addr, domain-name, url, email-addr, file"
            ))
        }
    };
    Ok((format!("[{key} = {}]", literal(value)), value.to_string()))
}

fn row(cells: &Cells<'_>, source: &str, now: &str) -> Result<Value, String> {
    let cell = |c: &str| cells.get(c);
    let (pattern, value) = pattern(cells)?;
    let valid_from = time(cell("validfrom"), "validFrom")?.ok_or("validFrom: required")?;
    let mut o = Map::new();
    let key = format!("{source}\u{0}{pattern}");
    o.insert("type".into(), json!("indicator"));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert("id".into(), json!(format!("indicator--{}", uuid::Uuid::new_v5(&NAMESPACE, key.as_bytes()))));
    o.insert("created".into(), json!(now));
    o.insert("modified".into(), json!(now));
    o.insert("name".into(), json!(cell("name").unwrap_or(&value)));
    if let Some(d) = cell("description") {
        o.insert("description".into(), json!(d));
    }
    let types = list(cell("threattypes"));
    if !types.is_empty() {
        o.insert("indicator_types".into(), json!(types));
    }
    o.insert("pattern".into(), json!(pattern));
    o.insert("pattern_type".into(), json!("stix"));
    o.insert("valid_from".into(), json!(valid_from));
    if let Some(t) = time(cell("validuntil"), "validUntil")? {
        o.insert("valid_until".into(), json!(t));
    }
    if let Some(c) = cell("confidence") {
        // Sentinel's own sample writes confidence as text ("95").
        let n: u8 = c.parse().ok().filter(|n| *n <= 100).ok_or(format!("confidence: '{c}' is not 0 to 100"))?;
        o.insert("confidence".into(), json!(n));
    }
    let tags = list(cell("tags"));
    if !tags.is_empty() {
        o.insert("labels".into(), json!(tags));
    }
    if let Some(r) = cell("revoked") {
        let b = match r.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => true,
            "false" | "no" | "0" => false,
            _ => return Err(format!("revoked: '{r}' is neither true nor false")),
        };
        o.insert("revoked".into(), json!(b));
    }
    if let Some(t) = cell("tlplevel") {
        let id = cairn_condition::tlp_marking_id(t)
            .ok_or(format!("tlpLevel: '{t}' is not one of white, clear, green, amber, amber+strict, red"))?;
        o.insert("object_marking_refs".into(), json!([id]));
    }
    if let Some(s) = cell("severity") {
        o.insert("x_severity".into(), json!(s));
    }
    Ok(Value::Object(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00.000Z";

    fn one(csv: &str) -> Result<Value, String> {
        let rows = read(csv.as_bytes(), "s", NOW)?;
        assert_eq!(rows.len(), 1);
        rows.into_iter().next().unwrap().object
    }

    #[test]
    fn the_other_indicators_template() {
        let v = one(
            "threatTypes,tags,name,description,confidence,revoked,validFrom,validUntil,tlpLevel,severity,observableType,observableValue\n\
             malicious-activity,\"apt29;c2\",Evil,d,95,false,2026-01-01,2026-06-01T00:00:00Z,amber,5,domain-name,evil.example\n",
        )
        .unwrap();
        assert_eq!(v["pattern"], "[domain-name:value = 'evil.example']");
        assert_eq!(v["labels"], json!(["apt29", "c2"]));
        assert_eq!(v["indicator_types"], json!(["malicious-activity"]));
        assert_eq!(v["confidence"], 95);
        assert_eq!(v["valid_from"], "2026-01-01T00:00:00.000Z");
        assert_eq!(v["object_marking_refs"], json!(["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]));
        assert_eq!(v["x_severity"], "5");
        assert!(cairn_stix::validate(&v, None).is_valid(), "{:?}", cairn_stix::validate(&v, None).errors);
    }

    #[test]
    fn the_file_template_and_comments() {
        let v = one(
            "# the template's comment row\nvalidFrom,MD5,SHA256,name\n2026-01-01,d41d8cd98f00b204e9800998ecf8427e,\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,empty\n",
        )
        .unwrap();
        assert_eq!(
            v["pattern"],
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-256' = \
             'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"
        );
        assert!(cairn_stix::validate(&v, None).is_valid());
    }

    #[test]
    fn same_observable_same_id_and_quotes_escaped() {
        let csv = "validFrom,observableType,observableValue\n2026-01-01,url,http://x.example/a'b\n2026-02-01,url,http://x.example/a'b\n";
        let rows = read(csv.as_bytes(), "s", NOW).unwrap();
        let (a, b) = (rows[0].object.as_ref().unwrap(), rows[1].object.as_ref().unwrap());
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["pattern"], "[url:value = 'http://x.example/a\\'b']");
        let other = read(csv.as_bytes(), "other source", NOW).unwrap();
        assert_ne!(other[0].object.as_ref().unwrap()["id"], a["id"]);
    }

    #[test]
    fn bad_rows_and_headers_are_named() {
        let table: &[(&str, &str)] = &[
            ("validFrom,observableType,observableValue\nsoon,ip,1.2.3.4\n", "validFrom: 'soon' is not a time"),
            ("validFrom,observableType,observableValue\n2026-01-01,mac,aa\n", "observableType: 'mac'"),
            ("validFrom,observableType,observableValue\n2026-01-01,ip,\n", "observableValue: required"),
            ("validFrom,observableType,observableValue,confidence\n2026-01-01,ip,1.2.3.4,high\n", "confidence: 'high'"),
            ("validFrom,observableType,observableValue,tlpLevel\n2026-01-01,ip,1.2.3.4,pink\n", "tlpLevel: 'pink'"),
            ("validFrom,observableType,observableValue,revoked\n2026-01-01,ip,1.2.3.4,maybe\n", "revoked: 'maybe'"),
        ];
        for (csv, want) in table {
            let e = one(csv).unwrap_err();
            assert!(e.contains(want), "{csv}: {e}");
        }
        let e = read("validFrom,colour\n".as_bytes(), "s", NOW).err().unwrap();
        assert!(e.contains("unknown column 'colour'"), "{e}");
        let e = read("observableType,observableValue\n".as_bytes(), "s", NOW).err().unwrap();
        assert!(e.contains("validFrom column is required"), "{e}");
        let rows = read(
            "validFrom,observableType,observableValue\n2026-01-01,ip,1.2.3.4\nsoon,ip,1.2.3.5\n".as_bytes(),
            "s",
            NOW,
        )
        .unwrap();
        assert_eq!(rows.iter().map(|r| (r.line, r.object.is_ok())).collect::<Vec<_>>(), [(2, true), (3, false)]);
    }
}
