//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of Cairn's own HTTP API (the
//! TAXII 2.1 routes under `/taxii2/` follow the TAXII specification and are not repeated).
//!
//! Written as data rather than derived from the handlers, so it stays readable; a test
//! holds it to the router (every route and method described, nothing described that is
//! not routed).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

pub async fn openapi() -> Response {
    Json(spec()).into_response()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object"),
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// One operation: summary, the least role it needs, parameters, request body and the
/// success response.
struct Op {
    summary: &'static str,
    role: &'static str,
    params: Vec<Value>,
    body: Option<Value>,
    status: &'static str,
    returns: Value,
}

fn op(summary: &'static str, role: &'static str) -> Op {
    Op { summary, role, params: Vec::new(), body: None, status: "200", returns: json!({"type": "object"}) }
}

impl Op {
    fn path(mut self, name: &str, what: &str) -> Op {
        self.params.push(
            json!({"name": name, "in": "path", "required": true, "description": what, "schema": {"type": "string"}}),
        );
        self
    }
    fn query(mut self, name: &str, kind: &str, what: &str) -> Op {
        self.params.push(json!({"name": name, "in": "query", "description": what, "schema": {"type": kind}}));
        self
    }
    fn body(mut self, schema: Value) -> Op {
        self.body = Some(json!({"required": true, "content": {"application/json": {"schema": schema}}}));
        self
    }
    fn raw_body(mut self, what: &str) -> Op {
        self.body = Some(json!({"required": true, "description": what,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}));
        self
    }
    fn created(mut self) -> Op {
        self.status = "201";
        self
    }
    fn returns(mut self, schema: Value) -> Op {
        self.returns = schema;
        self
    }
    fn build(self) -> Value {
        let mut responses = Map::new();
        responses.insert(
            self.status.into(),
            json!({"description": "success", "content": {"application/json": {"schema": self.returns}}}),
        );
        for (code, what) in [
            ("400", "the request is malformed; the error names the part"),
            ("401", "no or bad credentials"),
            ("403", "the caller's role is too low"),
        ] {
            responses.insert(
                code.into(),
                json!({"description": what, "content": {"application/json": {"schema": reference("Error")}}}),
            );
        }
        let mut o = obj(json!({
            "summary": self.summary,
            "description": format!("Needs the {} role.", self.role),
            "parameters": self.params,
            "responses": responses,
        }));
        if let Some(b) = self.body {
            o.insert("requestBody".into(), b);
        }
        Value::Object(o)
    }
}

/// The paths, each method with its operation.
fn paths() -> Vec<(&'static str, Vec<(&'static str, Op)>)> {
    let id = |o: Op| o.path("id", "a STIX id");
    vec![
        ("/healthz", vec![("get", op("Liveness and the object count", "no"))]),
        ("/api/v1/openapi.json", vec![("get", op("This document", "no"))]),
        (
            "/api/v1/objects",
            vec![
                (
                    "get",
                    op("Current objects, in pages", "reader")
                        .query("type", "string", "types, comma-separated")
                        .query("source", "string", "sources, comma-separated")
                        .query("id", "string", "ids, comma-separated")
                        .query("limit", "integer", "1 to 10000 (100)")
                        .query("after", "string", "the previous page's `next`"),
                ),
                (
                    "post",
                    op("Create an SDO; id, spec_version, created, modified and created_by_ref are filled in", "contributor")
                        .query("dry_run", "boolean", "check the draft as creation would and store nothing (200, or 422 with every problem)")
                        .body(reference("CreateObject"))
                        .created()
                        .returns(reference("Created")),
                ),
            ],
        ),
        (
            "/api/v1/objects/{id}",
            vec![
                ("get", id(op("The current version with its sources and the ingestion rules that changed it", "reader"))),
                ("delete", id(op("Delete (a tombstone; history stays); audited", "contributor"))),
                (
                    "patch",
                    id(op("Edit: a new version with a new modified, audited. Feed objects: tags, valid_until, confidence and revoked only", "contributor"))
                        .body(json!({"type": "object", "description": "properties to set; null removes; `tags` means labels"})),
                ),
            ],
        ),
        ("/api/v1/objects/{id}/versions", vec![("get", id(op("Every version and tombstone", "reader")))]),
        ("/api/v1/objects/{id}/revoke", vec![("post", id(op("Revoke (a new version)", "contributor")))]),
        ("/api/v1/objects/{id}/editable", vec![("get", id(op("What may be edited on this object, and why", "reader")))]),
        (
            "/api/v1/objects/{id}/duplicate",
            vec![
                ("get", id(op("A draft with this object's common metadata", "reader"))),
                (
                    "post",
                    id(op("Create a new object from this one's common metadata and the body's properties", "contributor"))
                        .query("dry_run", "boolean", "check the draft as creation would and store nothing (200, or 422 with every problem)")
                        .body(reference("CreateObject"))
                        .created()
                        .returns(reference("Created")),
                ),
            ],
        ),
        (
            "/api/v1/objects/{id}/graph",
            vec![(
                "get",
                id(op("Objects and relationships around this one", "reader"))
                    .query("depth", "integer", "relationship hops, 1 to 5 (1)")
                    .query("max_nodes", "integer", "at most this many objects (500)"),
            )],
        ),
        ("/api/v1/objects/{id}/exports", vec![("get", id(op("Where this object was exported", "reader")))]),
        (
            "/api/v1/objects/{id}/enrich",
            vec![("post", id(op(
                "Enrich now: GeoIP for the addresses the object is about, WhoIs (RDAP/WHOIS) for its domains and addresses where the cache lacks them (needs --geoip-db and/or --whois)",
                "contributor",
            )))],
        ),
        (
            "/api/v1/relationships",
            vec![(
                "post",
                op("The relationship builder: one source, any number of targets, one transaction", "contributor")
                    .body(reference("RelationshipBuilder"))
                    .created()
                    .returns(reference("Created")),
            )],
        ),
        (
            "/api/v1/relationships/suggest",
            vec![(
                "get",
                op("The spec's relationship types for a source and target type", "reader")
                    .query("source_type", "string", "e.g. threat-actor")
                    .query("target_type", "string", "e.g. identity"),
            )],
        ),
        (
            "/api/v1/rules",
            vec![
                ("get", op("The ingestion rule set (version and rules in running order)", "reader")),
                ("post", op("Add an ingestion rule; in force for the next batch", "admin").body(reference("IngestionRule")).created()),
            ],
        ),
        (
            "/api/v1/rules/dry-run",
            vec![("post", op("What an unsaved rule would select among stored objects", "reader").body(reference("IngestionRule")))],
        ),
        (
            "/api/v1/rules/versions/{version}",
            vec![("get", op("A past version of the rule set", "reader").path("version", "the rule-set version"))],
        ),
        (
            "/api/v1/rules/{id}",
            vec![
                ("get", op("One rule", "reader").path("id", "a rule's id or name")),
                ("put", op("Replace a rule (its id stays)", "admin").path("id", "a rule's id or name").body(reference("IngestionRule"))),
                ("delete", op("Delete a rule", "admin").path("id", "a rule's id or name")),
            ],
        ),
        (
            "/api/v1/rules/{id}/dry-run",
            vec![(
                "post",
                op("What a saved rule would select among stored objects", "reader")
                    .path("id", "a rule's id or name")
                    .query("sample", "integer", "objects to show (10)"),
            )],
        ),
        (
            "/api/v1/rules/{id}/apply",
            vec![("post", op("Apply a saved rule to stored objects (new versions or tombstones, audited)", "admin").path("id", "a rule's id or name"))],
        ),
        (
            "/api/v1/tags",
            vec![
                (
                    "get",
                    op("Tags with counts, most used first", "reader")
                        .query("prefix", "string", "only tags starting with this")
                        .query("limit", "integer", "1 to 1000 (50)"),
                ),
                ("post", op("Add and remove tags on objects of one type", "contributor").body(reference("BulkTags"))),
            ],
        ),
        (
            "/api/v1/audit",
            vec![(
                "get",
                op("The audit log (readers: one object's entries; the whole log needs admin)", "reader")
                    .query("object_id", "string", "one object's entries")
                    .query("actor", "string", "e.g. user:ann")
                    .query("after", "integer", "entries after this seq")
                    .query("limit", "integer", "1 to 10000 (100)"),
            )],
        ),
        (
            "/api/v1/search",
            vec![("post", op("Search the current objects: condition tree, keywords, sort, keyset pages, facets", "reader").body(reference("Search")))],
        ),
        (
            "/api/v1/query",
            vec![(
                "post",
                op("Run a KQL query over ThreatIntelIndicators, ThreatIntelObjects, ThreatIntelligenceIndicator and ThreatIntelSightings; a query error answers 400 with its line and column", "reader")
                    .body(reference("Query"))
                    .returns(reference("QueryResult")),
            )],
        ),
        ("/api/v1/functions", vec![("get", op("Saved KQL functions", "reader"))]),
        (
            "/api/v1/functions/{name}",
            vec![
                ("get", op("One saved function", "reader").path("name", "the function's name")),
                (
                    "put",
                    op("Save a KQL function (checked: a parse error answers 400)", "contributor")
                        .path("name", "the function's name")
                        .body(reference("SavedFunction")),
                ),
                ("delete", op("Delete a saved function", "contributor").path("name", "the function's name")),
            ],
        ),
        ("/api/v1/tables", vec![("get", op("Event tables over files, queried by name in KQL", "reader"))]),
        (
            "/api/v1/tables/{name}",
            vec![
                (
                    "put",
                    op("Register an event table over server files (JSON lines, CSV, Parquet; a file, directory or * pattern); read once to check", "admin")
                        .path("name", "the table's name")
                        .body(reference("FileTable")),
                ),
                ("delete", op("Remove an event table (the files stay)", "admin").path("name", "the table's name")),
            ],
        ),
        (
            "/api/v1/workbooks",
            vec![
                ("get", op("Workbooks (the shipped Threat Intelligence workbook included)", "reader")),
                ("post", op("Import a workbook (its exported JSON); 409 when the id is taken", "contributor").body(reference("Workbook")).created()),
            ],
        ),
        (
            "/api/v1/workbooks/{id}",
            vec![
                ("get", op("One workbook, as JSON to export", "reader").path("id", "the workbook's id")),
                ("put", op("Save a workbook (every tile's query is checked)", "contributor").path("id", "the workbook's id").body(reference("Workbook"))),
                ("delete", op("Delete a stored workbook (the shipped default comes back)", "contributor").path("id", "the workbook's id")),
            ],
        ),
        (
            "/api/v1/workbooks/{id}/render",
            vec![(
                "get",
                op("Run every tile over the time range: results, SVG charts, per-tile errors", "reader")
                    .path("id", "the workbook's id")
                    .query("time_range", "string", "7d, 24h… or START..END (default: the workbook's)"),
            )],
        ),
        (
            "/api/v1/workbooks/{id}/tiles/{n}/svg",
            vec![(
                "get",
                op("One tile's chart as image/svg+xml", "reader")
                    .path("id", "the workbook's id")
                    .path("n", "the tile, from 1")
                    .query("time_range", "string", "7d, 24h… or START..END"),
            )],
        ),
        (
            "/api/v1/imports",
            vec![
                ("get", op("File imports, newest first", "reader")),
                (
                    "post",
                    op("Import a CSV (Sentinel's templates) or STIX JSON file; recorded with its errors", "contributor")
                        .query("source", "string", "required: the source stamped on every object")
                        .query("format", "string", "csv or json (default: from the name)")
                        .query("policy", "string", "valid-only (default) or all-or-nothing")
                        .query("name", "string", "the file's name")
                        .raw_body("the file")
                        .created(),
                ),
            ],
        ),
        ("/api/v1/imports/{id}", vec![("get", op("One import with its first 100 errors", "reader").path("id", "the import's id"))]),
        (
            "/api/v1/imports/{id}/errors",
            vec![("get", op("The error file: a JSON line per entry not imported", "reader").path("id", "the import's id"))],
        ),
        (
            "/api/v1/collections",
            vec![("get", op("TAXII collections", "admin")), ("post", op("Create a TAXII collection", "admin").created())],
        ),
        ("/api/v1/users", vec![("get", op("Users and their roles", "admin")), ("post", op("Create a user, or replace its role and password", "admin").created())]),
        ("/api/v1/users/{name}", vec![("delete", op("Delete a user (not yourself); its tokens stay until revoked", "admin").path("name", "the user"))]),
        ("/api/v1/tokens", vec![("get", op("API tokens (their ids, names and roles; never the tokens)", "admin")), ("post", op("Create a token; the answer is the only time it is shown", "admin").created())]),
        ("/api/v1/tokens/{id}", vec![("delete", op("Revoke a token", "admin").path("id", "the token's id (from the list)"))]),
        ("/api/v1/instance", vec![("get", op("This instance: its id (the upload API's workspace id), version and counts", "reader"))]),
        (
            "/api/v1/connectors",
            vec![("get", op("Connectors with their health", "admin")), ("post", op("Add a TAXII connector", "admin").created())],
        ),
        ("/api/v1/connectors/{name}/run", vec![("post", op("Poll a connector now", "admin").path("name", "the connector"))]),
        ("/api/v1/connectors/test", vec![("post", op("Try a connector definition against its server (nothing is saved): {ok, title} or {ok: false, error}", "admin"))]),
        ("/api/v1/connectors/{name}/pause", vec![("post", op("Stop scheduled polls (Run now still polls)", "admin").path("name", "the connector"))]),
        ("/api/v1/connectors/{name}/resume", vec![("post", op("Resume scheduled polls", "admin").path("name", "the connector"))]),
        (
            "/api/v1/export-targets",
            vec![("get", op("Export targets", "admin")), ("post", op("Add an export target", "admin").created())],
        ),
        ("/api/v1/exports", vec![("get", op("Export records", "admin")), ("post", op("Export to a target now", "admin"))]),
        (
            "/api/v1/match",
            vec![("post", op("Match events against the active indicators (records sightings unless told not to)", "contributor"))],
        ),
        ("/api/v1/match/status", vec![("get", op("The indicator index's health", "reader"))]),
        (
            "/workspaces/{workspace}/{action}",
            vec![(
                "post",
                op("Sentinel-compatible upload API (`threat-intelligence-stix-objects:upload`, legacy `threatintelligenceindicators:upload`)", "contributor")
                    .path("workspace", "this instance's id, or default")
                    .path("action", "the upload action")
                    .query("api-version", "string", "accepted as given"),
            )],
        ),
    ]
}

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
        "Condition": {
            "description": "A clause, or a group of conditions: all (AND), any (OR), not. Sentinel's {conditionConnective, clauses, stixObjectType} is read too.",
            "oneOf": [
                {"$ref": "#/components/schemas/Clause"},
                {"type": "object", "properties": {"all": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}, "required": ["all"]},
                {"type": "object", "properties": {"any": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}, "required": ["any"]},
                {"type": "object", "properties": {"not": {"$ref": "#/components/schemas/Condition"}}, "required": ["not"]}
            ]
        },
        "Clause": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "description": "id, type, source, confidence, tags, tlp, created, modified, valid_from, valid_until, name, description, pattern, pattern_type, indicator_types, observable_key, observable_value, revoked, or a JSON path ($.x_score)"},
                "operator": {"type": "string", "enum": cairn_condition::OPERATORS.iter().map(|o| o.name()).collect::<Vec<_>>()},
                "values": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
                "value": {"type": ["string", "number", "boolean"]},
                "connective": {"type": "string", "enum": ["and", "or"]}
            },
            "required": ["field", "operator"]
        },
        "IngestionRule": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "object_type": {"type": "string", "description": "a STIX type, or * (default)"},
                "condition": {"$ref": "#/components/schemas/Condition"},
                "action": {"oneOf": [
                    {"type": "string", "enum": ["delete"]},
                    {"type": "object", "properties": {"edit": {"type": "object", "properties": {
                        "extend_valid_until_days": {"type": "integer", "minimum": 1},
                        "set_valid_until": {"type": "string"},
                        "add_tags": {"type": "array", "items": {"type": "string"}},
                        "remove_tags": {"type": "array", "items": {"type": "string"}},
                        "set_confidence": {"type": "integer", "minimum": 0, "maximum": 100},
                        "set_tlp": {"type": "string", "enum": ["white", "clear", "green", "amber", "amber+strict", "red"]},
                        "revoke": {"type": "boolean"}}}}, "required": ["edit"]}
                ]},
                "order": {"type": "integer"},
                "enabled": {"type": "boolean"},
                "applies_to": {"type": "array", "items": {"type": "string", "enum": ["connector", "upload", "file", "taxii"]}}
            },
            "required": ["name", "action"]
        },
        "Query": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "max_rows": {"type": "integer", "minimum": 0},
                "chart": {"type": "boolean", "description": "also draw the result as SVG (svg) when the query has render"},
                "visualization": {"type": "string", "enum": ["bar", "stackedbar", "column", "stackedcolumn", "pie", "line", "timechart", "area", "table", "number"]}
            },
            "required": ["query"]
        },
        "QueryResult": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}}},
                "rows": {"type": "array", "items": {"type": "array"}},
                "render": {"type": ["object", "null"]},
                "truncated": {"type": "boolean"},
                "svg": {"type": "string", "description": "with chart: the result drawn"},
                "chart_error": {"type": "string", "description": "with chart: why it could not be drawn"}
            },
            "required": ["columns", "rows", "render"]
        },
        "FileTable": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "format": {"type": "string", "enum": ["jsonl", "csv", "parquet"]}},
            "required": ["path"]
        },
        "Workbook": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "time_range": {"type": "object", "properties": {"default": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}}}},
                "tiles": {"type": "array", "items": {"type": "object", "properties": {
                    "title": {"type": "string"}, "query": {"type": "string"},
                    "visualization": {"type": "string", "enum": ["bar", "stackedbar", "column", "stackedcolumn", "pie", "line", "timechart", "area", "table", "number"]},
                    "width": {"type": "integer", "minimum": 1, "maximum": 2}
                }, "required": ["title", "query"]}}
            },
            "required": ["id", "name", "tiles"]
        },
        "SavedFunction": {
            "type": "object",
            "properties": {"body": {"type": "string"}, "description": {"type": "string"}},
            "required": ["body"]
        },
        "Search": {
            "type": "object",
            "properties": {
                "types": {"type": "array", "items": {"type": "string"}},
                "where": {"$ref": "#/components/schemas/Condition"},
                "keywords": {"type": "string"},
                "sort": {"type": "string", "enum": cairn_store::SortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>()},
                "order": {"type": "string", "enum": ["asc", "desc"]},
                "after": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "facets": {"type": "boolean"}
            }
        },
        "BulkTags": {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "type": {"type": "string"},
                "where": {"$ref": "#/components/schemas/Condition"},
                "add": {"type": "array", "items": {"type": "string"}},
                "remove": {"type": "array", "items": {"type": "string"}}
            }
        },
        "CreateObject": {
            "description": "The new object's properties (with `type`), or {object, relationships}.",
            "type": "object",
            "properties": {
                "object": {"type": "object"},
                "relationships": {"type": "array", "items": {"type": "object", "properties": {
                    "type": {"type": "string"}, "target": {"type": "string"}}, "required": ["type", "target"]}}
            }
        },
        "RelationshipBuilder": {
            "type": "object",
            "properties": {
                "source_ref": {"type": "string"},
                "targets": {"type": "array", "items": {"type": "object", "properties": {
                    "target_ref": {"type": "string"}, "relationship_type": {"type": "string"}},
                    "required": ["target_ref", "relationship_type"]}},
                "common": {"type": "object", "description": "description, confidence, labels, object_marking_refs, external_references, start_time, stop_time, lang, created_by_ref"}
            },
            "required": ["source_ref", "targets"]
        },
        "Created": {
            "type": "object",
            "properties": {"objects": {"type": "array", "items": {"type": "object"}}, "warnings": {"type": "array", "items": {"type": "string"}}}
        }
    })
}

pub fn spec() -> Value {
    let mut paths = Map::new();
    for (path, ops) in self::paths() {
        let mut methods = Map::new();
        for (method, o) in ops {
            methods.insert(method.into(), o.build());
        }
        paths.insert(path.into(), Value::Object(methods));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Cairn API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cairn's HTTP API. Authenticate with `Authorization: Bearer <token>` or HTTP Basic. Roles: reader < contributor < admin. The TAXII 2.1 server lives under /taxii2/ and follows the TAXII specification."
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "basic": {"type": "http", "scheme": "basic"}}
        },
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every `.route(path, method(...)...)` in the router is described, and nothing else.
    #[test]
    fn the_document_covers_exactly_the_routes() {
        let source = include_str!("mod.rs");
        let mut routed = BTreeSet::new();
        for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
            let path = line.split('"').nth(1).expect("a quoted path");
            for method in ["get", "post", "put", "patch", "delete"] {
                if line.contains(&format!("{method}(")) {
                    routed.insert(format!("{method} {path}"));
                }
            }
        }
        assert!(routed.len() > 30, "the router's routes were found: {routed:?}");
        let spec = super::spec();
        let mut described = BTreeSet::new();
        for (path, methods) in spec["paths"].as_object().unwrap() {
            for method in methods.as_object().unwrap().keys() {
                described.insert(format!("{method} {path}"));
            }
        }
        assert_eq!(routed, described);
        // Every $ref resolves.
        let text = spec.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(spec["components"]["schemas"].get(name).is_some(), "unresolved $ref {name}");
        }
    }
}
