//! `edgefeat materialize` and `edgefeat materialize-incremental`.

use std::io::IsTerminal as _;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::require_registry;
use crate::offline::materialize::{
    Job, NoProgress, Outcome, Progress, incremental_start, record_interval, run_job, select_views,
    skipped_odfvs,
};
use crate::online;
use crate::registry::Registry;
use crate::repo::RepoConfig;
use crate::types::clock;
use crate::types::time::{format_python, parse_timestamp};

/// Arguments of `materialize`.
#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// Window start (inclusive), e.g. 2026-11-23T00:00:00 (naive times are UTC).
    #[arg(
        value_name = "START_TS",
        required_unless_present = "disable_event_timestamp"
    )]
    start: Option<String>,
    /// Window end (inclusive).
    #[arg(
        value_name = "END_TS",
        required_unless_present = "disable_event_timestamp"
    )]
    end: Option<String>,
    /// Only these feature views (repeatable); default: every online feature view.
    #[arg(short = 'v', long = "views", value_name = "VIEW")]
    views: Vec<String>,
    /// Materialize everything from 1970 to now; START_TS and END_TS must be left out.
    #[arg(long, conflicts_with_all = ["start", "end"])]
    disable_event_timestamp: bool,
    /// Do not draw progress bars.
    #[arg(long)]
    no_progress: bool,
}

/// Arguments of `materialize-incremental`.
#[derive(Debug, Args)]
pub struct IncrementalArgs {
    /// Window end (inclusive); each view starts where its last window ended.
    #[arg(value_name = "END_TS")]
    end: String,
    /// Only these feature views (repeatable); default: every online feature view.
    #[arg(short = 'v', long = "views", value_name = "VIEW")]
    views: Vec<String>,
    /// Do not draw progress bars.
    #[arg(long)]
    no_progress: bool,
}

fn ts(text: &str, what: &str) -> Result<DateTime<Utc>> {
    parse_timestamp(text).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

pub(super) fn run(config: &RepoConfig, args: &MaterializeArgs) -> Result<()> {
    let (start, end) = if args.disable_event_timestamp {
        (DateTime::UNIX_EPOCH, clock::now())
    } else {
        let (Some(s), Some(e)) = (&args.start, &args.end) else {
            bail!("START_TS and END_TS are required (or --disable-event-timestamp)");
        };
        (ts(s, "START_TS")?, ts(e, "END_TS")?)
    };
    if start >= end {
        bail!(
            "start_ts ({}) must be before end_ts ({})",
            format_python(start),
            format_python(end)
        );
    }
    let registry = require_registry(config)?;
    let views = select_views(&registry, &args.views)?;
    println!(
        "Materializing {} feature views from {} to {} into the {} online store.\n",
        views.len(),
        format_python(start),
        format_python(end),
        config.online_store.type_name()
    );
    let jobs: Vec<Job> = views
        .iter()
        .map(|v| Job {
            view: v.spec.name.clone(),
            start,
            end,
        })
        .collect();
    execute(config, &registry, &jobs, &args.views, !args.no_progress)
}

pub(super) fn run_incremental(config: &RepoConfig, args: &IncrementalArgs) -> Result<()> {
    let end = ts(&args.end, "END_TS")?;
    let registry = require_registry(config)?;
    let views = select_views(&registry, &args.views)?;
    println!(
        "Materializing {} feature views to {} into the {} online store.\n",
        views.len(),
        format_python(end),
        config.online_store.type_name()
    );
    let now = clock::now();
    let mut jobs = Vec::new();
    for v in views {
        let start = incremental_start(v, now);
        if v.meta.materialization_intervals.is_empty() && v.spec.ttl_seconds == 0 {
            println!(
                "{} has no ttl and was never materialized: starting 52 weeks back, at {}",
                v.spec.name,
                format_python(start)
            );
        }
        if start >= end {
            println!(
                "{} is materialized up to {} already; nothing to do\n",
                v.spec.name,
                format_python(start)
            );
            continue;
        }
        jobs.push(Job {
            view: v.spec.name.clone(),
            start,
            end,
        });
    }
    execute(config, &registry, &jobs, &args.views, !args.no_progress)
}

fn execute(
    config: &RepoConfig,
    registry: &Registry,
    jobs: &[Job],
    names: &[String],
    progress: bool,
) -> Result<()> {
    for odfv in skipped_odfvs(registry, names) {
        println!(
            "{odfv}: skipped; on demand feature views are computed by their plugin at request time\n"
        );
    }
    let store = online::open(config)?;
    let show = progress && std::io::stdout().is_terminal();
    for job in jobs {
        println!(
            "{} from {} to {}:",
            job.view,
            format_python(job.start),
            format_python(job.end)
        );
        let outcome = if show {
            run_job(
                &config.repo_path,
                registry,
                store.as_ref(),
                job,
                &mut Bars::default(),
            )?
        } else {
            run_job(
                &config.repo_path,
                registry,
                store.as_ref(),
                job,
                &mut NoProgress,
            )?
        };
        let spec = &registry.feature_views[&job.view].spec;
        let recorded = record_interval(&config.registry_path, &config.project, spec, job)?;
        println!("{}", summary(&outcome));
        for q in &outcome.quarantined {
            println!("  error: {q}");
        }
        if !recorded {
            println!(
                "  the view changed while it was materialized, so this window is not recorded; run it again"
            );
        }
        println!();
    }
    Ok(())
}

fn summary(o: &Outcome) -> String {
    let secs = o.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        o.rows_read as f64 / secs
    } else {
        0.0
    };
    let mut line = format!(
        "  {} rows read ({} in the window), {} entities written in {secs:.2}s ({rate:.0} rows/s)",
        o.rows_read, o.rows_in_window, o.written
    );
    if o.kept_newer > 0 {
        line.push_str(&format!(
            "; {} entities kept a newer stored row",
            o.kept_newer
        ));
    }
    line
}

/// Two bars, reading then writing, drawn on stdout.
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
}

impl Bars {
    fn start(&mut self, total: u64, what: &str, unit: &str) {
        if let Some(old) = self.bar.take() {
            old.finish();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout());
        let style = ProgressStyle::with_template(&format!(
            "  {what:5} {{bar:40}} {{human_pos}}/{{human_len}} {unit} [{{elapsed_precise}}<{{eta_precise}}, {{per_sec:0}}]"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        self.bar = Some(bar);
    }
}

impl Progress for Bars {
    fn reading(&mut self, total: u64) {
        self.start(total, "read", "rows");
    }
    fn read(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn writing(&mut self, total: u64) {
        self.start(total, "write", "entities");
    }
    fn wrote(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}
