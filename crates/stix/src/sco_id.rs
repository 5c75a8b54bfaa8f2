//! Deterministic SCO ids (STIX 2.1 §2.9): UUIDv5 over the JCS form of the id-contributing properties.
