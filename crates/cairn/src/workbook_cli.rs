//! `cairn workbook`: list, show, import, export, delete and render workbooks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;

use crate::hunting::Hunting;
use crate::workbooks::{TimeRange, Workbook, Workbooks};

#[derive(Subcommand, Debug)]
pub enum WorkbookCommand {
    /// List workbooks (id, tiles, name).
    List,
    /// Print a workbook as JSON (what `import` reads).
    Export {
        id: String,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Save a workbook from its JSON; every tile's query is checked first.
    Import {
        file: PathBuf,
        /// Replace a stored workbook with the same id.
        #[arg(long)]
        replace: bool,
    },
    /// Delete a stored workbook (deleting the default restores the shipped one).
    Delete { id: String },
    /// Run every tile and write its chart as SVG (`NN-title.svg`) into a directory;
    /// prints each tile's result as a table.
    Render {
        id: String,
        /// 24h, 7d, 30d… or START..END (RFC 3339); default: the workbook's.
        #[arg(long)]
        time_range: Option<String>,
        #[arg(long, default_value = "workbook-svg")]
        out_dir: PathBuf,
        /// A text parameter's value: `--param Indicator=203.0.113.7` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
}

pub fn workbook(data: &Path, c: WorkbookCommand) -> anyhow::Result<i32> {
    let store = crate::cli::open_store(data)?;
    let hunting = Arc::new(Hunting::new(store).map_err(anyhow::Error::msg)?);
    let wbs = Workbooks::new(hunting);
    let get = |id: &str| -> anyhow::Result<Workbook> {
        wbs.get(id)
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("no workbook {id} (see cairn workbook list)"))
    };
    match c {
        WorkbookCommand::List => {
            for w in wbs.list().map_err(anyhow::Error::msg)? {
                println!("{}\t{} tiles\t{}", w.id, w.tiles.len(), w.name);
            }
            Ok(0)
        }
        WorkbookCommand::Export { id, out } => {
            let text = serde_json::to_string_pretty(&get(&id)?)? + "\n";
            match out {
                Some(p) => std::fs::write(&p, text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
        WorkbookCommand::Import { file, replace } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let w: Workbook =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not a workbook: {e}", file.display()))?;
            let stored = wbs.get(&w.id).map_err(anyhow::Error::msg)?;
            if !replace && stored.is_some_and(|s| s != Workbooks::default_workbook()) {
                eprintln!("error: workbook {} exists; --replace replaces it", w.id);
                return Ok(2);
            }
            match wbs.save(&w) {
                Ok(()) => {
                    println!("saved workbook {} ({} tiles)", w.id, w.tiles.len());
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        WorkbookCommand::Delete { id } => {
            if wbs.delete(&id).map_err(anyhow::Error::msg)? {
                println!("deleted workbook {id}");
                Ok(0)
            } else {
                eprintln!("no stored workbook {id}");
                Ok(2)
            }
        }
        WorkbookCommand::Render { id, time_range, out_dir, params } => {
            let w = get(&id)?;
            let mut given = crate::workbooks::ParamValues::new();
            for p in params {
                let (k, v) = p.split_once('=').ok_or_else(|| anyhow::anyhow!("--param {p}: write NAME=VALUE"))?;
                given.insert(k.to_string(), v.to_string());
            }
            let params = w.parameter_values(&given).map_err(anyhow::Error::msg)?;
            let now = cairn_store::now_micros();
            let range = TimeRange::parse(time_range.as_deref().unwrap_or(&w.time_range.default), now)
                .map_err(anyhow::Error::msg)?;
            let rt = crate::query_cli::runtime()?;
            let _g = rt.enter();
            std::fs::create_dir_all(&out_dir).map_err(|e| anyhow::anyhow!("{}: {e}", out_dir.display()))?;
            let mut failed = 0;
            for (i, t) in wbs.render(&w, &range, &params, now).into_iter().enumerate() {
                println!("== {} ({})", t.title, t.visualization.name());
                if let Some(r) = &t.result {
                    println!("{}", crate::hunting::to_table(r));
                }
                if let Some(e) = &t.error {
                    eprintln!("tile '{}': {e}", t.title);
                    failed += 1;
                }
                if let Some(svg) = &t.svg {
                    let slug: String = t
                        .title
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
                        .collect();
                    let p = out_dir.join(format!("{:02}-{}.svg", i + 1, slug.trim_matches('-')));
                    std::fs::write(&p, svg).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    println!("-> {}", p.display());
                }
            }
            Ok(if failed > 0 { 1 } else { 0 })
        }
    }
}
