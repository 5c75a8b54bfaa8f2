//! `cairn query` and `cairn function`.

use std::io::Read;
use std::path::Path;

use clap::{Args, Subcommand, ValueEnum};

use crate::hunting::{Hunting, SavedFunction};

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The KQL query; `-` reads it from stdin.
    pub query: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Rows returned at most (the rest are cut, and the output says so).
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
    /// Seconds a query may run.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum FunctionCommand {
    /// Save a KQL function that queries call by name, like a table (Sentinel's saved
    /// functions, e.g. the ThreatIntelIndicatorsv2 parser, pasted unchanged).
    Add {
        name: String,
        /// A file holding the function: `(params) { body }` or a query body.
        #[arg(long, conflicts_with = "body")]
        file: Option<String>,
        /// The function's text, instead of --file.
        #[arg(long)]
        body: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List saved functions.
    List,
    /// Print a saved function's text.
    Show { name: String },
    /// Delete a saved function.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum TableCommand {
    /// Register an event table over files, for joins with the intelligence:
    /// `cairn table add DnsEvents './logs/dns/*.jsonl'` (JSON lines, CSV or Parquet; a file,
    /// a directory, or a * pattern). The files are read when a query runs.
    Add {
        name: String,
        path: String,
        /// jsonl, csv or parquet (default: from the extension).
        #[arg(long)]
        format: Option<String>,
    },
    /// List event tables.
    List,
    /// Remove an event table (the files stay).
    Delete { name: String },
}

pub fn table(data: &Path, c: TableCommand) -> anyhow::Result<i32> {
    use cairn_kql::files::FileFormat;
    let store = crate::cli::open_store(data)?;
    let hunting = Hunting::new(store).map_err(anyhow::Error::msg)?;
    match c {
        TableCommand::Add { name, path, format } => {
            let format = match format {
                Some(f) => {
                    FileFormat::parse(&f).ok_or_else(|| anyhow::anyhow!("--format {f}: use jsonl, csv or parquet"))?
                }
                None => FileFormat::guess(&path)
                    .ok_or_else(|| anyhow::anyhow!("{path}: cannot tell the format from the name; give --format"))?,
            };
            let rt = runtime()?;
            let _guard = rt.enter();
            match hunting.save_table(&crate::hunting::FileTable { name: name.clone(), path, format }) {
                Ok(()) => {
                    println!("added table {name}");
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        TableCommand::List => {
            for t in hunting.tables().map_err(anyhow::Error::msg)? {
                println!("{}	{:?}	{}", t.name, t.format, t.path);
            }
            Ok(0)
        }
        TableCommand::Delete { name } => {
            if hunting.delete_table(&name).map_err(anyhow::Error::msg)? {
                println!("removed table {name}");
                Ok(0)
            } else {
                eprintln!("no table {name}");
                Ok(2)
            }
        }
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub fn query(data: &Path, a: QueryArgs) -> anyhow::Result<i32> {
    let text = if a.query == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        a.query.clone()
    };
    let store = crate::cli::open_store(data)?;
    let hunting = Hunting::new(store)
        .map_err(anyhow::Error::msg)?
        .with_limits(a.max_rows, std::time::Duration::from_secs(a.timeout));
    let rt = runtime()?;
    let _guard = rt.enter();
    match hunting.query(&text, cairn_store::now_micros()) {
        Ok(r) => {
            match a.format {
                Format::Json => println!("{}", serde_json::to_string(&r)?),
                Format::Csv => print!("{}", crate::hunting::to_csv(&r)),
                Format::Table => {
                    println!("{}", crate::hunting::to_table(&r));
                    if r.truncated {
                        eprintln!("(cut at {} rows; raise --max-rows to see more)", a.max_rows);
                    }
                }
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {}", e.render(&text));
            Ok(2)
        }
    }
}

pub fn function(data: &Path, c: FunctionCommand) -> anyhow::Result<i32> {
    let store = crate::cli::open_store(data)?;
    let hunting = Hunting::new(store).map_err(anyhow::Error::msg)?;
    match c {
        FunctionCommand::Add { name, file, body, description } => {
            let body = match (file, body) {
                (Some(f), _) if f == "-" => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                }
                (Some(f), _) => std::fs::read_to_string(&f).map_err(|e| anyhow::anyhow!("cannot read {f}: {e}"))?,
                (None, Some(b)) => b,
                (None, None) => anyhow::bail!("give the function's text with --file F.kql or --body"),
            };
            match hunting.save_function(&SavedFunction { name: name.clone(), body, description }) {
                Ok(()) => {
                    println!("saved function {name}");
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        FunctionCommand::List => {
            for f in hunting.functions().map_err(anyhow::Error::msg)? {
                println!("{}\t{}", f.name, f.description);
            }
            Ok(0)
        }
        FunctionCommand::Show { name } => match hunting.function(&name).map_err(anyhow::Error::msg)? {
            Some(f) => {
                println!("{}", f.body);
                Ok(0)
            }
            None => {
                eprintln!("no function {name}");
                Ok(2)
            }
        },
        FunctionCommand::Delete { name } => {
            if hunting.delete_function(&name).map_err(anyhow::Error::msg)? {
                println!("deleted function {name}");
                Ok(0)
            } else {
                eprintln!("no function {name}");
                Ok(2)
            }
        }
    }
}
