//! The `cairn` command line.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_store::{Filter, Source, SourceKind, SqliteStore, Store, VersionSelect};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::auth::{self, Role};
use crate::ingest::{self, ImportOptions, Pipeline};

/// Cairn: a self-hosted STIX 2.1 / TAXII 2.1 threat-intelligence platform.
#[derive(Parser, Debug)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The data directory (the SQLite store lives in it).
    #[arg(long, global = true, env = "CAIRN_DATA", default_value = "./cairn-data")]
    pub data: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (API and upload API).
    Serve(ServeArgs),
    /// Import STIX objects from a bundle, a JSON array or JSON lines, through the ingest pipeline.
    Import(ImportArgs),
    /// Export stored objects as a STIX bundle or JSON lines, to stdout.
    Export(ExportArgs),
    /// Validate STIX objects without storing them; one JSON line per object.
    Validate(ValidateArgs),
    /// Delete an object: writes a tombstone (its history stays; `export --all-versions` shows it).
    Delete(DeleteArgs),
    /// Show this instance's id (the upload API's workspace id) and store counts.
    Info(InfoArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// STIX patterns: validate them, match them against observed data.
    #[command(subcommand)]
    Pattern(crate::pattern_cli::PatternCommand),
    /// Match event logs (JSON lines) against the stored indicators; prints one JSON line per match
    /// and records matches as sightings.
    Match(crate::match_cli::MatchArgs),
    /// Manage TAXII collections.
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Data connectors: poll TAXII servers into Cairn.
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// TAXII collections on other servers that `export-to` pushes to.
    #[command(subcommand, name = "export-target")]
    ExportTarget(ExportTargetCommand),
    /// Push current objects to an export target; prints the export record as JSON.
    #[command(name = "export-to")]
    ExportTo(ExportToArgs),
    /// Enrich stored objects now (GeoIP for the addresses they are about); prints each
    /// result as a JSON line.
    Enrich(EnrichArgs),
    /// Run a KQL query over the threat-intelligence tables (ThreatIntelIndicators,
    /// ThreatIntelObjects, ThreatIntelligenceIndicator, ThreatIntelSightings).
    Query(crate::query_cli::QueryArgs),
    /// Saved KQL functions, called from queries like tables.
    #[command(subcommand)]
    Function(crate::query_cli::FunctionCommand),
    /// Event tables over files (JSON lines, CSV, Parquet) for KQL joins with the intelligence.
    #[command(subcommand)]
    Table(crate::query_cli::TableCommand),
    /// Load a realistic demo dataset (feeds, indicators of every common type, actors,
    /// malware, campaigns, relationships, sightings) through the pipeline.
    Demo {
        /// How many indicators (a tenth more appear in a second feed).
        #[arg(long, default_value_t = 5_000)]
        indicators: usize,
    },
    /// Workbooks: saved KQL tiles drawn as charts (the Threat Intelligence workbook ships).
    #[command(subcommand)]
    Workbook(crate::workbook_cli::WorkbookCommand),
    /// Ingestion rules: curate what connectors (and, per rule, other sources) deliver.
    #[command(subcommand)]
    Rule(crate::rule_cli::RuleCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Subcommand, Debug)]
pub enum ExportTargetCommand {
    /// Add a target.
    Add(Box<ExportTargetArgs>),
    /// List targets, one JSON line each (credentials are not shown).
    List,
    /// Run a target's scheduled export now: sends what changed since its last run.
    RunScheduled { name: String },
}

#[derive(Args, Debug)]
pub struct ExportTargetArgs {
    pub name: String,
    /// The API root URL of the receiving server.
    #[arg(long)]
    pub api_root: String,
    /// The (writable) collection id there.
    #[arg(long)]
    pub collection: String,
    #[command(flatten)]
    pub auth: RemoteAuth,
    /// Export continuously: every this long (1h, 15m…), what changed since the last run
    /// and matches the filters below; `cairn serve` runs it.
    #[arg(long)]
    pub every: Option<String>,
    #[arg(long = "type", requires = "every")]
    pub types: Vec<String>,
    #[arg(long, requires = "every")]
    pub source: Vec<String>,
    #[arg(long, requires = "every")]
    pub tag: Vec<String>,
    #[arg(long, requires = "every", value_parser = ["white", "clear", "green", "amber", "red"])]
    pub tlp: Option<String>,
    #[arg(long, requires = "every", value_parser = clap::value_parser!(i64).range(0..=100))]
    pub min_confidence: Option<i64>,
}

#[derive(Args, Debug)]
pub struct ExportToArgs {
    /// The export target's name.
    pub target: String,
    /// These objects (repeatable); otherwise the filters below select.
    #[arg(long = "id", conflicts_with_all = ["types", "source", "tag", "tlp", "min_confidence"])]
    pub ids: Vec<String>,
    #[arg(long = "type")]
    pub types: Vec<String>,
    #[arg(long)]
    pub source: Vec<String>,
    #[arg(long)]
    pub tag: Vec<String>,
    #[arg(long, value_parser = ["white", "clear", "green", "amber", "red"])]
    pub tlp: Option<String>,
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=100))]
    pub min_confidence: Option<i64>,
}

/// Credentials for another TAXII server: Basic, a bearer token, or an API-key header.
#[derive(Args, Debug)]
pub struct RemoteAuth {
    #[arg(long, requires = "password", conflicts_with_all = ["token", "api_key"])]
    pub user: Option<String>,
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// Sent as Authorization: Bearer <token>.
    #[arg(long, conflicts_with = "api_key")]
    pub token: Option<String>,
    #[arg(long, requires = "api_key")]
    pub api_key_header: Option<String>,
    #[arg(long, requires = "api_key_header")]
    pub api_key: Option<String>,
}

impl RemoteAuth {
    fn into_auth(self) -> crate::connector::ConnectorAuth {
        use crate::connector::ConnectorAuth;
        match (self.user, self.password, self.token, self.api_key_header, self.api_key) {
            (Some(user), Some(password), ..) => ConnectorAuth::Basic { user, password },
            (_, _, Some(token), ..) => ConnectorAuth::Token { token },
            (_, _, _, Some(header), Some(key)) => ConnectorAuth::ApiKey { header, key },
            _ => ConnectorAuth::None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ConnectorCommand {
    /// Add a connector.
    #[command(subcommand)]
    Add(ConnectorKind),
    /// List connectors with their health, one JSON line each (credentials are not shown).
    List,
    /// Poll a connector now; prints this run's counts as JSON.
    Run {
        name: String,
        /// Objects per page for this run (default: the connector's).
        #[arg(long)]
        page_size: Option<usize>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConnectorKind {
    /// A TAXII 2.1 or 2.0 collection.
    Taxii(Box<TaxiiConnectorArgs>),
}

#[derive(Args, Debug)]
pub struct TaxiiConnectorArgs {
    #[arg(long)]
    pub name: String,
    /// The API root URL, e.g. https://taxii.example.com/api1/
    #[arg(long)]
    pub api_root: String,
    /// The collection id.
    #[arg(long)]
    pub collection: String,
    #[command(flatten)]
    pub auth: RemoteAuth,
    /// Where the first poll starts: all, a duration (1d, 7d, 30d) or a date.
    #[arg(long, default_value = "all")]
    pub lookback: String,
    /// Time between polls when cairn serve runs (1m, 1h, 1d, any duration).
    #[arg(long, default_value = "1h")]
    pub interval: String,
    /// Objects per page.
    #[arg(long, default_value_t = 1_000)]
    pub page_size: usize,
}

#[derive(Subcommand, Debug)]
pub enum CollectionCommand {
    /// Create a TAXII collection; prints its id alone on stdout.
    ///
    /// A read collection is a saved filter over the store (all filters must match);
    /// a writable collection (--writable) holds what is POSTed to it.
    Create(Box<CreateCollectionArgs>),
    /// List collections as JSON lines.
    List,
}

#[derive(Args, Debug)]
pub struct CreateCollectionArgs {
    #[arg(long)]
    title: String,
    /// The collection id (a UUID); random when not given.
    #[arg(long)]
    id: Option<uuid::Uuid>,
    #[arg(long)]
    description: Option<String>,
    /// Accept POSTed objects (through the ingest pipeline, with this collection as source).
    #[arg(long, conflicts_with_all = ["types", "source", "tag", "tlp", "min_confidence"])]
    writable: bool,
    /// Only objects of this type (repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// Only objects delivered by this source (repeatable).
    #[arg(long)]
    source: Vec<String>,
    /// Only objects with this label (repeatable; any of them).
    #[arg(long)]
    tag: Vec<String>,
    /// Only objects marked with this TLP level.
    #[arg(long, value_parser = ["white", "clear", "green", "amber", "red"])]
    tlp: Option<String>,
    /// Only objects with at least this confidence.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=100))]
    min_confidence: Option<i64>,
    /// Readable without credentials.
    #[arg(long)]
    public: bool,
    /// Who may read: user:NAME or role:ROLE (repeatable; default: every authenticated user).
    #[arg(long = "read-by")]
    read_by: Vec<String>,
    /// Who may write a writable collection: user:NAME or role:ROLE (repeatable;
    /// default: contributors and admins).
    #[arg(long = "write-by")]
    write_by: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Upload API requests per minute per user (default: unlimited).
    #[arg(long)]
    pub upload_rate_limit: Option<u32>,
    /// Most objects accepted in one upload request.
    #[arg(long, default_value_t = 10_000)]
    pub upload_max_objects: usize,
    /// Also accept an API token in this header (e.g. X-Api-Key), for proxies that strip Authorization.
    #[arg(long)]
    pub api_key_header: Option<axum::http::HeaderName>,
    /// Largest TAXII request body, in bytes (the API root's max_content_length).
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    pub taxii_max_content_length: u64,
    /// Enrichment (GeoIP databases, WhoIs): new intelligence is enriched in the
    /// background and `POST /api/v1/objects/{id}/enrich` enriches on demand.
    #[command(flatten)]
    pub enrich: crate::enrichment::EnrichOptions,
    /// Largest CSV file import over the API, in bytes (Sentinel: 50 MB).
    #[arg(long, default_value_t = 50_000_000)]
    pub import_max_csv_bytes: u64,
    /// Largest STIX JSON file import over the API, in bytes (Sentinel: 250 MB).
    #[arg(long, default_value_t = 250_000_000)]
    pub import_max_json_bytes: u64,
    /// Tail this directory's JSON-lines event files (*.json, *.jsonl, *.ndjson, *.log) and match
    /// every new event against the indicators; matches are recorded as sightings.
    #[arg(long)]
    pub watch: Option<PathBuf>,
    /// The field mapping for --watch: ecs, cef, dns, syslog, asim or a mapping file.
    #[arg(long, default_value = "ecs")]
    pub watch_mapping: String,
    /// Where --watch appends its matches as JSON lines (default: matches.jsonl in the data directory).
    #[arg(long)]
    pub matches_log: Option<PathBuf>,
    /// How often --watch writes the sightings of what it matched (and saves its read positions), in
    /// seconds; a graceful stop writes them too.
    #[arg(long, default_value_t = 60)]
    pub watch_flush_secs: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// A progress bar.
    Bar,
    /// One JSON line on stderr after each committed batch (for scripts and supervisors).
    Lines,
    /// Nothing.
    None,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file to import, or '-' for stdin.
    pub file: String,
    /// Name of the source these objects come from (recorded with every version).
    #[arg(long)]
    pub source: String,
    /// Store nothing unless every object is accepted.
    #[arg(long)]
    pub all_or_nothing: bool,
    /// Write one JSON line per rejected object to this file.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Print the counts as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Objects per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch_size: usize,
    /// csv (Sentinel's CSV templates) or json (a STIX bundle, array or JSON lines); by
    /// default csv for files ending in .csv.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Bundle,
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Only objects of this type (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Only objects delivered by this source (repeatable).
    #[arg(long)]
    pub source: Vec<String>,
    /// Every stored version, not only the current version of live objects.
    #[arg(long)]
    pub all_versions: bool,
    #[arg(long, value_enum, default_value_t = ExportFormat::Bundle)]
    pub format: ExportFormat,
    /// Only objects of this STIX version. A bundle of 2.0 objects only (chosen here, or
    /// because nothing else matched) is written as a STIX 2.0 bundle.
    #[arg(long, value_parser = ["2.0", "2.1"])]
    pub spec_version: Option<String>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The file to validate, or '-' for stdin.
    pub file: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The STIX id to delete.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, or replace its role and password.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; prints it once, alone on stdout.
    Create {
        name: String,
        #[arg(long)]
        role: Role,
    },
}

/// Runs a command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG").unwrap_or_else(|_| "cairn=info,warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
    match dispatch(cli) {
        Ok(code) => code,
        // A closed pipe (`cairn export | head`) is the reader's choice, not a failure.
        Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

pub(crate) fn open_store(data: &Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(SqliteStore::open_dir(data)?))
}

fn open_input(file: &str) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if file == "-" {
        return Ok((Box::new(io::stdin()), None));
    }
    let f = File::open(file).map_err(|e| anyhow::anyhow!("cannot open {file}: {e}"))?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let data = cli.global.data;
    match cli.command {
        Command::Serve(a) => {
            let store = open_store(&data)?;
            let config = crate::api::ApiConfig {
                upload_rate_limit: a.upload_rate_limit,
                upload_max_objects: a.upload_max_objects,
                api_key_header: a.api_key_header,
                taxii_max_content_length: a.taxii_max_content_length,
                import_max_csv_bytes: a.import_max_csv_bytes,
                import_max_json_bytes: a.import_max_json_bytes,
            };
            let watch = a.watch.map(|dir| crate::server::WatchConfig {
                dir,
                mapping: a.watch_mapping,
                matches_log: a.matches_log.unwrap_or_else(|| data.join("matches.jsonl")),
                flush_every: std::time::Duration::from_secs(a.watch_flush_secs),
            });
            crate::server::serve(Pipeline::new(store), a.listen, config, watch, a.enrich)?;
            Ok(0)
        }
        Command::Import(a) => import(&data, a),
        Command::Export(a) => export(&data, a),
        Command::Validate(a) => validate(a),
        Command::Delete(a) => {
            let store = open_store(&data)?;
            if store.delete(&a.id, &Source::new(SourceKind::Ui, "cli"))? {
                println!("deleted {}", a.id);
                Ok(0)
            } else {
                eprintln!("error: no live object {} to delete", a.id);
                Ok(1)
            }
        }
        Command::Info(a) => {
            let store = open_store(&data)?;
            let id = store.instance_id()?;
            let stats = store.stats()?;
            if a.json {
                println!("{}", json!({ "instance_id": id, "data": data, "stats": stats }));
            } else {
                println!("instance id:  {id}");
                println!("data dir:     {}", data.display());
                println!(
                    "objects:      {} live, {} deleted, {} versions, {} conflicts",
                    stats.objects, stats.deleted, stats.versions, stats.conflicts
                );
            }
            Ok(0)
        }
        Command::User(UserCommand::Add { name, role, password }) => {
            let store = open_store(&data)?;
            auth::add_user(store.as_ref(), &name, role, &password).map_err(anyhow::Error::msg)?;
            eprintln!("user '{name}' saved with role {}", role.as_str());
            Ok(0)
        }
        Command::Token(TokenCommand::Create { name, role }) => {
            let store = open_store(&data)?;
            let token = auth::create_token(store.as_ref(), &name, role).map_err(anyhow::Error::msg)?;
            println!("{token}");
            Ok(0)
        }
        Command::Collection(CollectionCommand::Create(a)) => {
            let CreateCollectionArgs {
                title,
                id,
                description,
                writable,
                types,
                source,
                tag,
                tlp,
                min_confidence,
                public,
                read_by,
                write_by,
            } = *a;
            let store = open_store(&data)?;
            let c = crate::taxii::CollectionConfig {
                id: id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
                title,
                description,
                writable,
                public,
                select: crate::taxii::SavedFilter { types, sources: source, tags: tag, tlp, min_confidence },
                readers: read_by,
                writers: write_by,
            };
            crate::taxii::create_collection(store.as_ref(), &c).map_err(anyhow::Error::msg)?;
            println!("{}", c.id);
            Ok(0)
        }
        Command::Collection(CollectionCommand::List) => {
            let store = open_store(&data)?;
            for c in crate::taxii::list_collections(store.as_ref())? {
                println!("{}", serde_json::to_string(&c)?);
            }
            Ok(0)
        }
        Command::Connector(ConnectorCommand::Add(ConnectorKind::Taxii(a))) => {
            let a = *a;
            let store = open_store(&data)?;
            let auth = a.auth.into_auth();
            let c = crate::connector::ConnectorConfig {
                name: a.name,
                api_root: a.api_root,
                collection: a.collection,
                auth,
                lookback: a.lookback,
                interval: a.interval,
                page_size: a.page_size,
            };
            crate::connector::add(store.as_ref(), &c).map_err(anyhow::Error::msg)?;
            eprintln!("connector '{}' added", c.name);
            Ok(0)
        }
        Command::Connector(ConnectorCommand::List) => {
            let store = open_store(&data)?;
            for (c, s) in crate::connector::list(store.as_ref())? {
                println!("{}", crate::connector::describe(&c, &s));
            }
            Ok(0)
        }
        Command::Connector(ConnectorCommand::Run { name, page_size }) => {
            let store = open_store(&data)?;
            match crate::connector::run(&Pipeline::new(store), &name, page_size) {
                Ok(counts) => {
                    println!("{}", serde_json::to_string(&counts)?);
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("error: connector {name}: {e}");
                    Ok(1)
                }
            }
        }
        Command::ExportTarget(ExportTargetCommand::Add(a)) => {
            let a = *a;
            let store = open_store(&data)?;
            let t = crate::export::ExportTarget {
                name: a.name,
                api_root: a.api_root,
                collection: a.collection,
                auth: a.auth.into_auth(),
                schedule: a.every.map(|interval| crate::export::ExportSchedule {
                    interval,
                    select: crate::taxii::SavedFilter {
                        types: a.types,
                        sources: a.source,
                        tags: a.tag,
                        tlp: a.tlp,
                        min_confidence: a.min_confidence,
                    },
                }),
            };
            crate::export::add_target(store.as_ref(), &t).map_err(anyhow::Error::msg)?;
            eprintln!("export target '{}' added", t.name);
            Ok(0)
        }
        Command::ExportTarget(ExportTargetCommand::List) => {
            let store = open_store(&data)?;
            for t in crate::export::targets(store.as_ref())? {
                let line = json!({ "name": t.name, "api_root": t.api_root, "collection": t.collection,
                                   "auth": t.auth.kind(), "schedule": t.schedule });
                println!("{line}");
            }
            Ok(0)
        }
        Command::ExportTarget(ExportTargetCommand::RunScheduled { name }) => {
            let store = open_store(&data)?;
            match crate::export::run_schedule(store.as_ref(), &name).map_err(anyhow::Error::msg)? {
                Some(record) => {
                    println!("{}", serde_json::to_string(&record)?);
                    Ok(if record.status == "complete" { 0 } else { 2 })
                }
                None => {
                    println!("{}", json!({ "sent": 0, "note": "nothing changed since the last run" }));
                    Ok(0)
                }
            }
        }
        Command::ExportTo(a) => {
            let store = open_store(&data)?;
            let filter = Filter {
                ids: a.ids,
                types: a.types,
                sources: a.source,
                tags: a.tag,
                tlp_marking: a.tlp.as_deref().and_then(crate::taxii::tlp_marking).map(str::to_string),
                min_confidence: a.min_confidence,
                ..Filter::default()
            };
            let record = crate::export::export_to(store.as_ref(), &a.target, &filter).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string(&record)?);
            if let Some(e) = &record.error {
                eprintln!("error: export {} to {} failed: {e} (run it again to retry)", record.id, record.target);
            }
            Ok(if record.status == "complete" { 0 } else { 2 })
        }
        Command::Pattern(p) => crate::pattern_cli::run(p),
        Command::Match(a) => crate::match_cli::run(&data, a),
        Command::Rule(r) => crate::rule_cli::run(&data, r),
        Command::Enrich(a) => enrich(&data, a),
        Command::Query(a) => crate::query_cli::query(&data, a),
        Command::Function(c) => crate::query_cli::function(&data, c),
        Command::Table(c) => crate::query_cli::table(&data, c),
        Command::Workbook(c) => crate::workbook_cli::workbook(&data, c),
        Command::Demo { indicators } => {
            let pipeline = crate::ingest::Pipeline::new(open_store(&data)?);
            let r = crate::demo::load(&pipeline, indicators, chrono::Utc::now()).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(if r.rejected == 0 { 0 } else { 1 })
        }
        Command::Bench(b) => crate::bench::run(b),
    }
}

fn import(data: &Path, a: ImportArgs) -> anyhow::Result<i32> {
    let store = open_store(data)?;
    let (input, len) = open_input(&a.file)?;
    let format = match &a.format {
        Some(f) => crate::imports::Format::parse(f).map_err(anyhow::Error::msg)?,
        None => crate::imports::Format::of_file(&a.file),
    };
    let request = crate::imports::ImportRequest {
        source: a.source.clone(),
        file_name: a.file.clone(),
        format,
        all_or_nothing: a.all_or_nothing,
        by: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
    };
    if format == crate::imports::Format::Csv {
        return import_csv(store, a, request, input);
    }
    let started = crate::imports::now_text();
    let show_bar = match a.progress {
        ProgressMode::Auto => io::stderr().is_terminal(),
        ProgressMode::Bar => true,
        _ => false,
    };
    let bar = show_bar.then(|| {
        let pb = match len {
            Some(n) => indicatif::ProgressBar::new(n).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
                )
                .expect("template"),
            ),
            None => indicatif::ProgressBar::new_spinner(),
        };
        pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        pb
    });
    let input: Box<dyn Read + Send> = match &bar {
        Some(pb) => Box::new(pb.wrap_read(input)),
        None => input,
    };
    let lines = a.progress == ProgressMode::Lines;
    let pipeline = Pipeline::new(store);
    let source = Source::new(SourceKind::File, a.source.clone());
    let opts = ImportOptions { all_or_nothing: a.all_or_nothing, batch_size: a.batch_size };
    let report = pipeline.import(&source, input, opts, &mut |p| {
        if let Some(pb) = &bar {
            pb.set_message(format!(
                "{} created, {} new versions, {} unchanged, {} dropped by rules, {} rejected",
                p.summary.created, p.summary.new_versions, p.summary.unchanged, p.summary.dropped, p.summary.rejected
            ));
        }
        if lines {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "{}", serde_json::to_string(p).expect("progress serialises"));
        }
    })?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    if let Some(path) = &a.errors {
        let mut w =
            BufWriter::new(File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?);
        for r in &report.rejections {
            serde_json::to_writer(&mut w, r)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    let s = report.summary;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        let dropped = if s.dropped > 0 { format!(", dropped by ingestion rules {}", s.dropped) } else { String::new() };
        println!(
            "created {}, new versions {}, unchanged {}{dropped}, rejected {}",
            s.created, s.new_versions, s.unchanged, s.rejected
        );
    }
    if !report.rejections.is_empty() && a.errors.is_none() {
        for r in report.rejections.iter().take(10) {
            eprintln!("rejected #{} {}: {}", r.index, r.id.as_deref().unwrap_or("(no id)"), r.errors.join("; "));
        }
        if report.rejections.len() > 10 {
            eprintln!("… and {} more (use --errors FILE for all)", report.rejections.len() - 10);
        }
    }
    if let Some(e) = &report.read_error {
        eprintln!("error: {e}");
    }
    if a.all_or_nothing && !report.committed {
        eprintln!("nothing was stored (--all-or-nothing)");
    }
    let code = if s.rejected == 0 && report.read_error.is_none() { 0 } else { 2 };
    crate::imports::record_streamed(pipeline.store().as_ref(), request, started, report).map_err(anyhow::Error::msg)?;
    Ok(code)
}

/// `cairn import FILE.csv`: Sentinel's CSV templates, through the same pipeline.
fn import_csv(
    store: Arc<dyn Store>,
    a: ImportArgs,
    request: crate::imports::ImportRequest,
    input: Box<dyn Read + Send>,
) -> anyhow::Result<i32> {
    let pipeline = Pipeline::new(store);
    let r = crate::imports::run(&pipeline, request, input).map_err(anyhow::Error::msg)?;
    if let Some(e) = &r.file_error {
        eprintln!("error: {e}");
        return Ok(2);
    }
    if let Some(path) = &a.errors {
        let mut w =
            BufWriter::new(File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?);
        for e in &r.errors {
            serde_json::to_writer(&mut w, e)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&r.summary())?);
    } else {
        println!(
            "rows {}, created {}, new versions {}, unchanged {}, dropped by ingestion rules {}, rejected {}",
            r.total, r.created, r.new_versions, r.unchanged, r.dropped, r.rejected
        );
        if a.errors.is_none() {
            for e in r.errors.iter().take(10) {
                eprintln!("rejected line {}: {}", e.at, e.errors.join("; "));
            }
        }
        if a.all_or_nothing && !r.committed {
            eprintln!("nothing was stored (--all-or-nothing)");
        }
    }
    Ok(if r.rejected == 0 { 0 } else { 2 })
}

fn export(data: &Path, a: ExportArgs) -> anyhow::Result<i32> {
    let store = open_store(data)?;
    let filter = Filter {
        types: a.types,
        sources: a.source,
        ids: Vec::new(),
        spec_versions: a.spec_version.into_iter().collect(),
        versions: if a.all_versions { VersionSelect::All } else { VersionSelect::Current },
        ..Filter::default()
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    if a.format == ExportFormat::Bundle {
        // STIX 2.0 bundles carry spec_version "2.0"; 2.1 bundles carry none. A bundle
        // holding only 2.0 objects is a 2.0 bundle, so 2.0 consumers can read it.
        let only_20 = store.spec_versions(&filter)? == ["2.0"];
        let spec = if only_20 { ",\"spec_version\":\"2.0\"" } else { "" };
        write!(out, "{{\"type\":\"bundle\",\"id\":\"bundle--{}\"{spec},\"objects\":[", uuid::Uuid::new_v4())?;
    }
    let mut first = true;
    let mut cursor = None;
    loop {
        let page = store.list(&filter, cursor, 10_000)?;
        // Tombstones are not STIX objects; they show in the versions API, not in exports.
        for v in page.items.iter().filter(|v| !v.tombstone) {
            match a.format {
                ExportFormat::Bundle => {
                    if !first {
                        out.write_all(b",")?;
                    }
                    out.write_all(v.raw.as_bytes())?;
                }
                ExportFormat::Jsonl => {
                    out.write_all(v.raw.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            first = false;
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    if a.format == ExportFormat::Bundle {
        out.write_all(b"]}\n")?;
    }
    out.flush()?;
    Ok(0)
}

fn validate(a: ValidateArgs) -> anyhow::Result<i32> {
    let (input, _) = open_input(&a.file)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut all_valid = true;
    let mut write_err: Option<io::Error> = None;
    // Validation only: no rules, so every verdict is the validator's.
    let rules = crate::ingestion_rules::RuleSet::empty();
    let source = Source::new(SourceKind::File, "validate");
    let now = cairn_store::now_micros();
    let r = ingest::read_objects(input, &mut |item| {
        let (id, valid, errors, warnings) = match ingest::check(item.value, item.bundle_spec, &rules, &source, now) {
            ingest::Checked::Accepted { candidate, warnings } => (Some(candidate.id), true, Vec::new(), warnings),
            ingest::Checked::Dropped { .. } => (None, true, Vec::new(), Vec::new()),
            ingest::Checked::Rejected { id, errors, warnings } => (id, false, errors, warnings),
        };
        all_valid &= valid;
        let line = json!({ "index": item.index, "id": id, "valid": valid, "errors": errors, "warnings": warnings });
        if let Err(e) = writeln!(out, "{line}") {
            write_err = Some(e);
            return ingest::Flow::Break(());
        }
        ingest::Flow::Continue(())
    });
    if let Some(e) = write_err {
        return Err(e.into());
    }
    out.flush()?;
    if let Err(e) = r {
        eprintln!("error: {e}");
        return Ok(2);
    }
    Ok(if all_valid { 0 } else { 2 })
}

#[derive(Args, Debug)]
pub struct EnrichArgs {
    /// Objects to enrich, by id.
    pub ids: Vec<String>,
    /// Every object not enriched yet (what the server does in the background), then the
    /// queued WhoIs lookups.
    #[arg(long, conflicts_with_all = ["ids", "where_", "condition"])]
    pub all: bool,
    /// Objects of this type that match the --where/--condition query.
    #[arg(long = "type", default_value = "indicator")]
    pub object_type: String,
    /// Enrich the current objects matching "FIELD OPERATOR VALUE" (repeatable, ANDed),
    /// as in search and ingestion rules: --where "tags ArrayContains apt29" (also
    /// spelled --query).
    #[arg(long = "where", visible_alias = "query", conflicts_with = "ids")]
    pub where_: Vec<String>,
    /// The query as a condition tree in JSON, ANDed with --where.
    #[arg(long, conflicts_with = "ids")]
    pub condition: Option<String>,
    #[command(flatten)]
    pub sources: crate::enrichment::EnrichOptions,
}

fn enrich(data: &Path, a: EnrichArgs) -> anyhow::Result<i32> {
    let store = open_store(data)?;
    let Some(e) = a.sources.enricher()? else {
        anyhow::bail!("nothing to enrich with: give --geoip-db FILE and/or --whois");
    };
    if a.all {
        let mut total = 0;
        loop {
            let n = e.catch_up(store.as_ref(), 5_000).map_err(anyhow::Error::msg)?;
            total += n;
            if n < 5_000 {
                break;
            }
        }
        let lookups = e.whois_step(store.as_ref(), std::time::Duration::from_secs(600)).map_err(anyhow::Error::msg)?;
        let pending = crate::enrichment::Enricher::pending(store.as_ref()).map_err(anyhow::Error::msg)?;
        println!(
            "{}",
            serde_json::json!({ "versions_read": total, "whois_lookups": lookups, "whois_pending": pending })
        );
        return Ok(0);
    }
    let mut ids = a.ids.clone();
    if !a.where_.is_empty() || a.condition.is_some() {
        let condition = crate::rule_cli::condition_of(&a.where_, a.condition.as_deref())?;
        ids = crate::search::select_ids(store.as_ref(), &a.object_type, condition).map_err(anyhow::Error::msg)?;
        eprintln!("{} {} objects match", ids.len(), a.object_type);
    } else if ids.is_empty() {
        anyhow::bail!("name objects to enrich, or give --where/--condition, or --all");
    }
    let mut missing = false;
    for id in &ids {
        if store.current(id)?.is_none() {
            eprintln!("no object {id} (unknown or deleted)");
            missing = true;
            continue;
        }
        let r = e.enrich_stored(store.as_ref(), id).map_err(anyhow::Error::msg)?;
        println!("{}", serde_json::json!({ "id": id, "enrichment": r }));
    }
    Ok(if missing { 2 } else { 0 })
}
