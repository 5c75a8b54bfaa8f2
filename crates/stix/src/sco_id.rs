//! Deterministic SCO ids (STIX 2.1 Identifier section): UUIDv5 over the JCS form of the id-contributing properties.
//!
//! The name is the RFC 8785 canonical JSON of an object holding those ID contributing
//! properties (per type, [`crate::spec::ObjSpec::id_contributing`]) that the SCO carries,
//! with `hashes` reduced to a single hash: MD5, else SHA-1, else SHA-256, else SHA-512, else
//! the first key as written (the OASIS `stix2` library's `_choose_one_hash`). The namespace
//! is [`crate::spec::SCO_ID_NAMESPACE`]. Values are taken as written: unlike `stix2`, we do
//! not first normalise hash names (`sha256` → `SHA-256`) or re-print timestamps.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::canonical_json;
use crate::spec::{self, ID_HASH_PREFERENCE};

/// The namespace the spec fixes, `00abedb4-aa42-466c-9c01-fed23315a9b7`.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// The deterministic id of a STIX 2.1 SCO (`type--uuidv5`), or `None` when the object is
/// not a spec-defined SCO type, or carries none of its ID contributing properties (the spec
/// then calls for a UUIDv4, so there is nothing to compare with).
pub fn deterministic_id(obj: &Value) -> Option<String> {
    let map = obj.as_object()?;
    let t = map.get("type")?.as_str()?;
    let spec = spec::spec_21(t).filter(|s| !s.id_contributing.is_empty())?;
    let mut contributing = Map::new();
    for &name in spec.id_contributing {
        let value = match map.get(name) {
            None | Some(Value::Null) => continue,
            Some(v) if name == "hashes" => match choose_one_hash(v) {
                Some(h) => h,
                None => continue,
            },
            Some(v) => v.clone(),
        };
        contributing.insert(name.to_owned(), value);
    }
    if contributing.is_empty() {
        return None;
    }
    let name = canonical_json(&Value::Object(contributing));
    Some(format!("{t}--{}", Uuid::new_v5(&NAMESPACE, name.as_bytes())))
}

/// The one hash of a `hashes` dictionary that contributes to the id.
fn choose_one_hash(hashes: &Value) -> Option<Value> {
    let map = hashes.as_object()?;
    let (k, v) = ID_HASH_PREFERENCE.iter().find_map(|alg| map.get_key_value(*alg)).or_else(|| map.iter().next())?;
    let mut one = Map::new();
    one.insert(k.clone(), v.clone());
    Some(Value::Object(one))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Expected ids computed with the OASIS `stix2` 3.0.2 library
    /// (`stix2.parse(obj, version="2.1").id`).
    #[test]
    fn matches_python_stix2() {
        let cases = [
            (json!({"type": "ipv4-addr", "value": "198.51.100.3"}), "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"),
            (json!({"type": "ipv6-addr", "value": "2001:db8::1"}), "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26"),
            (
                json!({"type": "domain-name", "value": "example.com"}),
                "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
            ),
            (
                json!({"type": "url", "value": "https://example.com/research/index.html"}),
                "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55",
            ),
            (
                json!({"type": "email-addr", "value": "john@example.com", "display_name": "John Doe"}),
                "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934",
            ),
            (
                json!({"type": "mac-addr", "value": "d2:fb:49:24:37:18"}),
                "mac-addr--757b1725-9903-54f5-a855-1240691d7659",
            ),
            (
                json!({"type": "autonomous-system", "number": 15139, "name": "Slime Industries"}),
                "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff",
            ),
            (
                json!({"type": "directory", "path": "C:\\Windows\\System32"}),
                "directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622",
            ),
            (json!({"type": "mutex", "name": "__CLEANSWEEP__"}), "mutex--f93fe911-e545-5239-b9b0-597840d0c871"),
            // MD5 is preferred over SHA-256 even when written second
            (
                json!({"type": "file", "name": "foo.exe", "hashes": {
                    "SHA-256": "35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f",
                    "MD5": "1717b7fff97d37a1e1a0029d83492de1"}}),
                "file--ccb7459a-4c7d-511e-b750-7cd176ab4734",
            ),
            // SHA-256 before SHA-512
            (
                json!({"type": "file", "hashes": {
                    "SHA-256": "35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f",
                    "SHA-512": "a".repeat(128)}}),
                "file--e84a0184-b73e-56af-bce4-e3e2dc530c68",
            ),
            // SHA-1 before SHA-512
            (
                json!({"type": "file", "hashes": {"SHA-512": "b".repeat(128), "SHA-1": "c".repeat(40)}}),
                "file--d34ffaa0-6254-559d-a83d-c4c4c2f103ab",
            ),
            // none preferred: the first key as written
            (
                json!({"type": "file", "hashes": {"x_custom": "abc", "TLSH": "d".repeat(70)}}),
                "file--3da59fd2-95ec-57b5-9bcf-a84d59a2d131",
            ),
            (
                json!({"type": "file", "name": "qwerty.dll",
                       "parent_directory_ref": "directory--93c0a9b0-520d-545d-9094-1a08ddf46b05"}),
                "file--1f5cf977-21f8-538a-a41a-a67001af3295",
            ),
            (json!({"type": "file", "name": "ünïcode€.txt"}), "file--54c93673-ef3b-56ca-964d-d6a5c3e5c7ee"),
            (
                json!({"type": "file", "name": "a.zip", "extensions": {"archive-ext": {
                    "contains_refs": ["file--019fde1c-94ab-5f7d-9a42-1a6ac2bc2e4d"]}}}),
                "file--9d200c52-96fc-510c-be8a-67f2505d5a98",
            ),
            (
                json!({"type": "software", "name": "Word", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*",
                       "version": "2002", "vendor": "Microsoft"}),
                "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc",
            ),
            (
                json!({"type": "user-account", "user_id": "1001", "account_login": "jdoe", "account_type": "unix"}),
                "user-account--f94d689e-707d-58c3-b803-c720bb6ed096",
            ),
            (
                json!({"type": "windows-registry-key", "key": "HKEY_LOCAL_MACHINE\\System\\Foo\\Bar",
                       "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}]}),
                "windows-registry-key--a485b5d9-834c-5558-9a81-be947e91b3ec",
            ),
            (
                json!({"type": "x509-certificate", "issuer": "C=ZA",
                       "serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06"}),
                "x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe",
            ),
            (
                json!({"type": "email-message", "is_multipart": false, "subject": "Hi", "body": "x",
                       "from_ref": "email-addr--89f52ea8-d6ef-51e9-8fce-6a29236436ed"}),
                "email-message--7c214dc3-60a0-5b82-8db5-aa69d3101f73",
            ),
            (
                json!({"type": "network-traffic", "src_port": 2487, "dst_port": 80, "protocols": ["ipv4", "tcp"],
                       "src_ref": "ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb7",
                       "dst_ref": "ipv4-addr--03b708d9-7761-5523-ab75-5ea096294a68",
                       "start": "2020-01-01T00:00:00.5Z"}),
                "network-traffic--0195b65d-1024-5e79-833e-2eae4ccb19d3",
            ),
            (
                json!({"type": "network-traffic", "protocols": ["tcp"], "start": "2020-01-01T00:00:00Z",
                       "dst_ref": "ipv4-addr--03b708d9-7761-5523-ab75-5ea096294a68"}),
                "network-traffic--cf1707ae-bf6a-51e1-90be-278800af70d7",
            ),
            (json!({"type": "ipv4-addr", "value": "10.0.0.0/8"}), "ipv4-addr--86428b07-0841-50f5-884f-260544a6ebee"),
        ];
        for (obj, want) in &cases {
            assert_eq!(deterministic_id(obj).as_deref(), Some(*want), "{obj}");
        }
    }

    #[test]
    fn none_without_contributing_properties() {
        for obj in [
            json!({"type": "process", "pid": 4}),
            json!({"type": "artifact", "url": "https://example.com/a"}),
            json!({"type": "user-account", "display_name": "x"}),
            json!({"type": "x-custom-sco", "value": "x"}),
            json!({"type": "indicator"}),
            json!({"type": "file", "hashes": {}}),
            json!("not an object"),
        ] {
            assert_eq!(deterministic_id(&obj), None, "{obj}");
        }
    }
}
