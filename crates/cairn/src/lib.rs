//! Cairn, the application: the ingest pipeline, the HTTP API, authentication and the CLI.
//!
//! Key design decision: this crate holds no STIX or storage rules of its own. It wires the
//! domain crates (`cairn-stix`, `cairn-store`) to the outside world, and every way
//! intelligence comes in goes through [`ingest::Pipeline`], so no path can skip
//! validation or the versioning rules.

pub mod alloc;
pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod connector;
pub mod curation;
pub mod demo;
pub mod detect;
pub mod enrichment;
pub mod export;
pub mod hunting;
pub mod imports;
pub mod ingest;
pub mod ingestion_rules;
pub mod match_cli;
pub mod pattern_cli;
pub mod query_cli;
pub mod rule_cli;
pub mod scheduler;
pub mod search;
pub mod server;
pub mod taxii;
pub mod web;
pub mod workbook_cli;
pub mod workbooks;
