//! A small writer of MaxMind DB files (format version 2.0), for test fixtures with exact,
//! known contents. Real databases come from their vendors; this only has to produce
//! files that any conforming reader (the `maxminddb` crate, libmaxminddb's
//! `mmdblookup`) reads back.
//!
//! Layout: a binary search tree over the address bits (IPv6; IPv4 lives at `::a.b.c.d`,
//! as in MaxMind's own IPv6 databases), 24-bit records, 16 zero bytes, the data section,
//! then the metadata marker and the metadata map.

use std::net::IpAddr;

use serde_json::Value;

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// A database being built: networks with their data.
pub struct MmdbWriter {
    database_type: String,
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    pub fn new(database_type: &str) -> MmdbWriter {
        MmdbWriter { database_type: database_type.to_string(), nodes: vec![[Rec::Empty, Rec::Empty]], data: Vec::new() }
    }

    /// Adds `network/prefix` (IPv4 or IPv6) with `data` (a JSON object: maps, strings,
    /// unsigned integers, floats, booleans, arrays). Add wider networks before narrower
    /// ones inside them.
    pub fn insert(&mut self, network: IpAddr, prefix: u8, data: &Value) {
        let (bits, len) = match network {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 96 + u32::from(prefix)),
            IpAddr::V6(a) => (u128::from(a), u32::from(prefix)),
        };
        assert!((1..=128).contains(&len), "prefix out of range");
        let offset = self.data.len();
        encode(data, &mut self.data);
        let mut node = 0;
        for i in 0..len {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if i == len - 1 {
                self.nodes[node][bit] = Rec::Data(offset);
            } else {
                node = match self.nodes[node][bit] {
                    Rec::Node(n) => n,
                    // A data record above: split it, so both halves keep the wider data.
                    old => {
                        self.nodes.push([old, old]);
                        let n = self.nodes.len() - 1;
                        self.nodes[node][bit] = Rec::Node(n);
                        n
                    }
                };
            }
        }
    }

    /// The database file's bytes.
    pub fn build(&self) -> Vec<u8> {
        let count = self.nodes.len();
        let number = |r: Rec| -> u32 {
            let n = match r {
                Rec::Empty => count,
                Rec::Node(i) => i,
                Rec::Data(off) => count + 16 + off,
            };
            u32::try_from(n).ok().filter(|n| *n < 1 << 24).expect("24-bit records suffice for fixtures")
        };
        let mut out = Vec::with_capacity(count * 6 + 16 + self.data.len() + 200);
        for [l, r] in &self.nodes {
            out.extend_from_slice(&number(*l).to_be_bytes()[1..]);
            out.extend_from_slice(&number(*r).to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let meta = serde_json::json!({
            "binary_format_major_version": {"$u16": 2},
            "binary_format_minor_version": {"$u16": 0},
            "build_epoch": {"$u64": 1_700_000_000u64},
            "database_type": self.database_type,
            "description": {"en": "Cairn test fixture"},
            "ip_version": {"$u16": 6},
            "languages": ["en"],
            "node_count": count as u64,
            "record_size": {"$u16": 24},
        });
        encode(&meta, &mut out);
        out
    }
}

/// Control byte(s) for a type and a size.
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (first, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    };
    if kind <= 7 {
        out.push(kind << 5 | first);
    } else {
        out.push(first);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}

fn uint(kind: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

/// Encodes a JSON value in the data-section format. Whole numbers become uint32 (uint64
/// when larger), others doubles; `{"$u16": n}` / `{"$u64": n}` force those types.
fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => {
            control(2, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => control(14, usize::from(*b), out),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) if u <= u64::from(u32::MAX) => uint(6, u, out),
            (Some(u), _) => uint(9, u, out),
            (None, Some(f)) => {
                control(3, 8, out);
                out.extend_from_slice(&f.to_be_bytes());
            }
            _ => panic!("unsupported number {n}"),
        },
        Value::Object(m) if m.len() == 1 && m.contains_key("$u16") => uint(5, m["$u16"].as_u64().expect("u16"), out),
        Value::Object(m) if m.len() == 1 && m.contains_key("$u64") => uint(9, m["$u64"].as_u64().expect("u64"), out),
        Value::Object(m) => {
            control(7, m.len(), out);
            for (k, x) in m {
                encode(&Value::String(k.clone()), out);
                encode(x, out);
            }
        }
        Value::Array(a) => {
            control(11, a.len(), out);
            for x in a {
                encode(x, out);
            }
        }
        Value::Null => panic!("MaxMind DB has no null"),
    }
}
