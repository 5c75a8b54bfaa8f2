//! TAXII 2.1 resources (§4–§5 of the specification), as they go on the wire.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Discovery {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub api_roots: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiRoot {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub versions: Vec<String>,
    pub max_content_length: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Collection {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Collections {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub collections: Vec<Collection>,
}

/// An envelope of objects. Objects are raw JSON: served exactly as stored.
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<Box<RawValue>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub id: String,
    pub date_added: String,
    pub version: String,
    pub media_type: String,
}

/// A manifest page. `next` is not in the 2.1 text but its erratum (cti-taxii2 #110) adds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub objects: Vec<ManifestRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Versions {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub versions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The status of a POST (§4.3). Cairn processes envelopes synchronously, so a status is
/// `complete` when it is first returned.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timestamp: Option<String>,
    pub total_count: u64,
    pub success_count: u64,
    #[serde(default)]
    pub successes: Vec<StatusDetail>,
    pub failure_count: u64,
    #[serde(default)]
    pub failures: Vec<StatusDetail>,
    pub pending_count: u64,
    #[serde(default)]
    pub pendings: Vec<StatusDetail>,
}

/// The error message resource (§3.6.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorResource {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub http_status: String,
}
