//! TAXII 2.1: protocol types and the server's HTTP routes.
//!
//! Key design decision: the routes know TAXII and nothing of Cairn. Storage, the ingest
//! pipeline and authorisation sit behind the [`Backend`] trait, implemented by the
//! application, so this crate depends on no server internals (as ripgrep's `Matcher` lets
//! regex engines plug in). Handlers parse and check the protocol — media types, filters,
//! paging, error resources — and call the backend on tokio's blocking pool.

pub mod server;
pub mod types;

pub use server::{router, Backend, BackendError, CollectionInfo, Item, ObjectQuery, Page, VersionMatch};
pub use types::*;

/// The TAXII 2.1 media type, for requests and responses.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The STIX 2.1 media type, for objects in manifests and collections.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
