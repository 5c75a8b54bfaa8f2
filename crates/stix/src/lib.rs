//! The STIX 2.1 (and 2.0) object model and validator. Pure: no I/O, no clock.
//!
//! Key design decision: objects stay `serde_json::Value`s and the specification is encoded
//! as *data* ([`spec`]: required properties, reference targets, vocabularies and value
//! rules per type) interpreted by one validator, instead of a Rust struct per type. A
//! struct per type would drop or reorder custom properties and extensions, which a TIP
//! must pass on untouched, and it would spread the spec over fifty files; a table keeps
//! each rule in one place where it can be checked against the spec text.

pub mod canonical;
pub mod formats;
pub mod ident;
pub mod object;
pub mod sco_id;
pub mod spec;
pub mod timestamp;
pub mod validate;

pub use canonical::canonical_json;
pub use object::{Category, ObjectMeta, SpecVersion};
pub use timestamp::Timestamp;
pub use validate::{validate, Finding, Report};
