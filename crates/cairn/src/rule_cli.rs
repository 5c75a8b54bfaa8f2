//! `cairn rule …`: ingestion rules from the command line, as flags or as JSON.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use cairn_condition::{Clause, Condition, Connective, Field, Operator};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::ingestion_rules::{self as rules, Action, Edit, IngestionRule};

#[derive(Subcommand, Debug)]
pub enum RuleCommand {
    /// Add a rule, from flags or from JSON (`--file`, `--json`); prints it as saved.
    Add(Box<RuleSpec>),
    /// List the rules in running order (`--json`: the whole rule set as JSON).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one rule as JSON.
    Show { rule: String },
    /// Enable a rule.
    Enable { rule: String },
    /// Disable a rule (it stays, and can be enabled again).
    Disable { rule: String },
    /// Delete a rule.
    Delete { rule: String },
    /// Give a rule a new order number (lower runs first).
    Reorder { rule: String, order: i64 },
    /// Count the stored objects a rule would act on and show some, without changing anything.
    /// Takes a saved rule's id or name, or an unsaved rule as flags or JSON.
    DryRun {
        /// A saved rule's id or name.
        rule: Option<String>,
        #[command(flatten)]
        spec: Box<RuleSpec>,
        /// How many matching objects to show.
        #[arg(long, default_value_t = 10)]
        sample: usize,
    },
    /// Apply a saved rule to the stored objects it selects: edits become new versions,
    /// deletes tombstones (both audited).
    Apply { rule: String },
}

/// A rule as flags, or as JSON.
#[derive(Args, Debug, Default)]
pub struct RuleSpec {
    /// Read the rule as JSON from a file (`-` for stdin).
    #[arg(long, conflicts_with = "json")]
    pub file: Option<PathBuf>,
    /// The rule as JSON text.
    #[arg(long)]
    pub json: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// A STIX type, or * for every type.
    #[arg(long = "type", default_value = "*")]
    pub object_type: String,
    /// A condition clause, "FIELD OPERATOR [VALUE]" (e.g. "confidence GreaterThanEqual 80");
    /// repeat for more, all of which must hold.
    #[arg(long = "where")]
    pub clauses: Vec<String>,
    /// A condition tree as JSON (`{"any": [...]}`), ANDed with any --where clauses.
    #[arg(long)]
    pub condition: Option<String>,
    /// Action: drop matching objects from the pipeline.
    #[arg(long)]
    pub delete: bool,
    #[arg(long)]
    pub extend_valid_until_days: Option<u32>,
    #[arg(long)]
    pub set_valid_until: Option<String>,
    #[arg(long = "add-tag")]
    pub add_tags: Vec<String>,
    #[arg(long = "remove-tag")]
    pub remove_tags: Vec<String>,
    #[arg(long)]
    pub set_confidence: Option<u8>,
    #[arg(long)]
    pub set_tlp: Option<String>,
    #[arg(long)]
    pub revoke: bool,
    #[arg(long)]
    pub order: Option<i64>,
    /// Save the rule disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Source kinds the rule acts on (connector, upload, file, taxii); default connector.
    #[arg(long, value_delimiter = ',')]
    pub applies_to: Vec<String>,
}

impl RuleSpec {
    fn is_empty(&self) -> bool {
        self.file.is_none() && self.json.is_none() && self.name.is_none()
    }

    fn into_rule(self) -> anyhow::Result<IngestionRule> {
        let text = match (&self.file, &self.json) {
            (Some(f), _) => Some(read_text(f)?),
            (None, Some(j)) => Some(j.clone()),
            _ => None,
        };
        if let Some(text) = text {
            return serde_json::from_str(&text).map_err(|e| anyhow!("not an ingestion rule: {e}"));
        }
        let name = self.name.ok_or_else(|| anyhow!("give the rule a --name (or pass it as --json/--file)"))?;
        let condition = condition_of(&self.clauses, self.condition.as_deref())?;
        let edit = Edit {
            extend_valid_until_days: self.extend_valid_until_days,
            set_valid_until: self.set_valid_until,
            add_tags: self.add_tags,
            remove_tags: self.remove_tags,
            set_confidence: self.set_confidence,
            set_tlp: self.set_tlp,
            revoke: self.revoke,
        };
        let action = match (self.delete, edit == Edit::default()) {
            (true, true) => Action::Delete,
            (false, false) => Action::Edit(edit),
            (true, false) => bail!("a rule has one action: --delete, or edits, not both"),
            (false, true) => bail!(
                "name an action: --delete, or edits (--extend-valid-until-days, --set-valid-until, --add-tag, \
                 --remove-tag, --set-confidence, --set-tlp, --revoke)"
            ),
        };
        Ok(IngestionRule {
            id: String::new(),
            name,
            object_type: self.object_type,
            condition,
            action,
            order: self.order,
            enabled: !self.disabled,
            applies_to: if self.applies_to.is_empty() { vec!["connector".into()] } else { self.applies_to },
        })
    }
}

fn read_text(f: &Path) -> anyhow::Result<String> {
    if f == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))
    }
}

/// "FIELD OPERATOR [VALUE]": the value is the rest of the text, spaces included.
fn parse_clause(text: &str) -> anyhow::Result<Clause> {
    let mut it = text.trim().splitn(3, char::is_whitespace);
    let field = it.next().filter(|f| !f.is_empty()).ok_or_else(|| anyhow!("expected FIELD OPERATOR [VALUE]"))?;
    let op = it.next().ok_or_else(|| anyhow!("expected an operator after '{field}'"))?;
    let value = it.next().map(str::trim).filter(|v| !v.is_empty());
    let field = Field::parse(field).map_err(|e| anyhow!(e))?;
    let op = Operator::parse(op).map_err(|e| anyhow!(e))?;
    Clause::new(field, op, value.map(str::to_string).into_iter().collect(), Connective::Or).map_err(|e| anyhow!(e))
}

pub fn run(data: &Path, cmd: RuleCommand) -> anyhow::Result<i32> {
    let store = crate::cli::open_store(data)?;
    let store = store.as_ref();
    let show = |r: &IngestionRule, version: i64| -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(r)?);
        eprintln!("rule set version {version}");
        Ok(())
    };
    match cmd {
        RuleCommand::Add(spec) => {
            let (r, set) = rules::add(store, spec.into_rule()?).map_err(|e| anyhow!(e))?;
            show(&r, set.version)?;
        }
        RuleCommand::List { json } => {
            let set = rules::load(store).map_err(|e| anyhow!(e))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&set)?);
            } else {
                println!("rule set version {}", set.version);
                println!(
                    "{:>6}  {:<8}  {:<24}  {:<12}  {:<8}  {:<18}  ID",
                    "ORDER", "ENABLED", "NAME", "TYPE", "ACTION", "APPLIES TO"
                );
                for r in &set.rules {
                    let action = if matches!(r.action, Action::Delete) { "delete" } else { "edit" };
                    println!(
                        "{:>6}  {:<8}  {:<24}  {:<12}  {:<8}  {:<18}  {}",
                        r.order.unwrap_or_default(),
                        if r.enabled { "yes" } else { "no" },
                        r.name,
                        r.object_type,
                        action,
                        r.applies_to.join(","),
                        r.id
                    );
                }
            }
        }
        RuleCommand::Show { rule } => {
            let set = rules::load(store).map_err(|e| anyhow!(e))?;
            let r = set.find(&rule).ok_or_else(|| anyhow!("no ingestion rule with id or name '{rule}'"))?;
            show(r, set.version)?;
        }
        RuleCommand::Enable { rule } => toggle(store, &rule, true)?,
        RuleCommand::Disable { rule } => toggle(store, &rule, false)?,
        RuleCommand::Delete { rule } => {
            let (r, set) = rules::remove(store, &rule).map_err(|e| anyhow!(e))?;
            println!("deleted rule '{}' ({}); rule set version {}", r.name, r.id, set.version);
        }
        RuleCommand::Reorder { rule, order } => {
            let (r, set) = rules::modify(store, &rule, |r| {
                r.order = Some(order);
                Ok(())
            })
            .map_err(|e| anyhow!(e))?;
            println!("rule '{}' now has order {order}; rule set version {}", r.name, set.version);
        }
        RuleCommand::DryRun { rule, spec, sample } => {
            let r = match (rule, spec.is_empty()) {
                (Some(name), true) => {
                    let set = rules::load(store).map_err(|e| anyhow!(e))?;
                    set.find(&name).ok_or_else(|| anyhow!("no ingestion rule with id or name '{name}'"))?.clone()
                }
                (None, false) => {
                    let r = spec.into_rule()?;
                    r.check().map_err(|e| anyhow!(e))?;
                    r
                }
                (Some(_), false) => bail!("give a saved rule's name or an unsaved rule, not both"),
                (None, true) => bail!("give a saved rule's id or name, or a rule as flags, --json or --file"),
            };
            let d = rules::dry_run(store, &r, sample).map_err(|e| anyhow!(e))?;
            println!("{}", serde_json::to_string_pretty(&json!(d))?);
        }
        RuleCommand::Apply { rule } => {
            let set = rules::load(store).map_err(|e| anyhow!(e))?;
            let r = set.find(&rule).ok_or_else(|| anyhow!("no ingestion rule with id or name '{rule}'"))?.clone();
            let pipeline = crate::ingest::Pipeline::new(crate::cli::open_store(data)?);
            let actor = format!("cli:{}", whoami());
            let a = rules::apply_to_stored(&pipeline, &r, &actor).map_err(|e| anyhow!(e))?;
            println!("{}", serde_json::to_string_pretty(&json!(a))?);
            if !a.errors.is_empty() {
                return Ok(2);
            }
        }
    }
    Ok(0)
}

fn toggle(store: &dyn cairn_store::Store, rule: &str, on: bool) -> anyhow::Result<()> {
    let (r, set) = rules::modify(store, rule, |r| {
        r.enabled = on;
        Ok(())
    })
    .map_err(|e| anyhow!(e))?;
    println!("rule '{}' {}; rule set version {}", r.name, if on { "enabled" } else { "disabled" }, set.version);
    Ok(())
}

/// Who ran the CLI, for the audit log.
fn whoami() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into())
}

/// A condition from `--where "FIELD OP VALUE"` clauses and a `--condition` JSON tree, ANDed.
pub(crate) fn condition_of(clauses: &[String], json: Option<&str>) -> anyhow::Result<Condition> {
    let mut parts = Vec::new();
    for c in clauses {
        parts.push(Condition::Clause(parse_clause(c).with_context(|| format!("--where \"{c}\""))?));
    }
    if let Some(c) = json {
        let v: Value = serde_json::from_str(c).context("--condition is not JSON")?;
        parts.push(Condition::from_json(&v).map_err(|e| anyhow!("--condition: {e}"))?);
    }
    Ok(if parts.len() == 1 { parts.pop().expect("one") } else { Condition::All(parts) })
}
