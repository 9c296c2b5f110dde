//! The `alloc-report` command line: argument parsing and the subcommands, so that the binary
//! is one call to [`main`]. To add a subcommand, add a variant to [`Command`] with its
//! `Args` struct and an arm in [`Command::run`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use crate::model::profile::Profile;
use crate::report::compare;
use crate::report::diff::{write_change_tables, write_diff_flamegraph};
use crate::report::export::{export, ExportFormat};
use crate::report::flamegraph::{write_flamegraph, FlamegraphOptions};
use crate::report::html::{self, HtmlOptions};
use crate::report::metric::Metric;
use crate::report::output::Output;
use crate::report::progress::Progress;
use crate::report::spans::{
    no_spans_error, write_span_changes, write_span_diff_flamegraph, write_span_flamegraph, By,
    SpanSummary,
};
use crate::report::summary::Summary;

/// `alloc-report`: reports on allocscope profile files.
#[derive(Debug, Parser)]
#[command(
    name = "alloc-report",
    version,
    about = "Reports on allocscope profiles: flamegraphs, summary, diff, export to folded stacks or pprof"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How profiles are read (symbolization, trimming); valid with every subcommand.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// How profiles are read: where the profiled program's files are, and which frames to show.
#[derive(Debug, Clone, Default, Args)]
pub struct LoadArgs {
    /// A copy of the profiled program (or of a library) to symbolize from, used when its build
    /// ID is the one recorded in the profile; may be repeated. Default: the recorded path.
    #[arg(long, global = true, value_name = "PATH")]
    pub binary: Vec<PathBuf>,
    /// A directory of separate debug files (`.build-id/ab/cdef….debug`, or the binary's
    /// `.gnu_debuglink` name) for a stripped binary; may be repeated. `/usr/lib/debug` is
    /// always searched.
    #[arg(long, global = true, value_name = "DIR")]
    pub debug_dir: Vec<PathBuf>,
    /// Show every frame: the allocator's plumbing, closure shims and the runtime's frames
    /// below `main` are left out by default.
    #[arg(long, global = true)]
    pub all_frames: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Draw a flamegraph (SVG) of one figure of the call sites.
    Flamegraph(FlamegraphArgs),
    /// Print totals, size classes, top call sites and the RSS gap.
    Summary(SummaryArgs),
    /// Compare two profiles: a differential flamegraph and the call sites that changed most.
    Diff(DiffArgs),
    /// Write the profile as folded stacks or as a gzipped pprof heap profile.
    Export(ExportArgs),
    /// Write a self-contained HTML report (gap, size classes, timeline, call sites,
    /// interactive flamegraph) that opens from disk in any browser.
    Html(HtmlArgs),
    /// Compare profiles of the same program side by side (e.g. over different allocators):
    /// times, allocations, peaks, RSS and the gap terms, with the differences in words.
    Compare(CompareArgs),
    /// Write a copy of a profile with the function names resolved, for sharing or keeping
    /// after the binary is gone (raw frames kept, nothing trimmed).
    Symbolize(SymbolizeArgs),
    /// Gate CI on a profile: limits on allocations, bytes, peak and leaks, and on their
    /// increase over a baseline profile. Exit status 0 (within budget), 1 (exceeded), 2 (bad
    /// input).
    Check(crate::report::check::CheckArgs),
}

/// Arguments of `alloc-report symbolize`.
#[derive(Debug, Args)]
pub struct SymbolizeArgs {
    /// The profile file (JSON written by allocscope).
    pub profile: PathBuf,
    /// Output profile file.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `alloc-report html`.
#[derive(Debug, Args)]
pub struct HtmlArgs {
    /// The profile file (JSON written by allocscope).
    pub profile: PathBuf,
    /// Output HTML file (`-` for stdout).
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Title of the page (default: the program's name).
    #[arg(long)]
    pub title: Option<String>,
}

/// Arguments of `alloc-report compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Profiles of the same program; the first is the baseline. Each is named by its file
    /// stem (or its full path where two stems are the same).
    #[arg(required = true, num_args = 2..)]
    pub profiles: Vec<PathBuf>,
    /// Print the comparison as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How a flamegraph looks (shared by `flamegraph` and `diff`).
#[derive(Debug, Args)]
pub struct DrawArgs {
    /// The figure that gives frames their width.
    #[arg(long, value_enum, default_value_t = Metric::Bytes)]
    pub metric: Metric,
    /// Title of the graph (default: the metric and its unit).
    #[arg(long)]
    pub title: Option<String>,
    /// Draw an icicle graph: roots at the top, allocating functions at the bottom.
    #[arg(long)]
    pub icicle: bool,
    /// Leave out frames narrower than this percentage of the whole graph's width.
    #[arg(long, default_value_t = 0.1, value_name = "PERCENT")]
    pub min_width: f64,
    /// Image width in pixels (default: fluid).
    #[arg(long, value_name = "PIXELS")]
    pub width: Option<usize>,
}

impl DrawArgs {
    fn options(&self) -> FlamegraphOptions {
        FlamegraphOptions {
            metric: self.metric,
            title: self.title.clone(),
            icicle: self.icicle,
            min_width: self.min_width,
            image_width: self.width,
        }
    }
}

/// Arguments of `alloc-report flamegraph`.
#[derive(Debug, Args)]
pub struct FlamegraphArgs {
    /// The profile file (JSON written by allocscope).
    pub profile: PathBuf,
    /// Output SVG file (`-` for stdout).
    #[arg(short, long, default_value = "flamegraph.svg")]
    pub output: PathBuf,
    /// How to draw.
    #[command(flatten)]
    pub draw: DrawArgs,
    /// Frames are call stacks (default) or tracing span paths (`request;parse`, from the
    /// profile's `spans` table).
    #[arg(long, value_enum, default_value_t = By::Site)]
    pub by: By,
    /// With `--by span`: follow each span path by the call stacks sampled in it.
    #[arg(long, requires = "by")]
    pub stacks: bool,
}

/// Arguments of `alloc-report summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The profile file (JSON written by allocscope).
    pub profile: PathBuf,
    /// Print stable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many call sites (or span paths) to list in each ranking.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Summarize by call site (default) or by tracing span path (the profile's `spans`
    /// table, written when the program installed `allocscope::SpanLayer`).
    #[arg(long, value_enum, default_value_t = By::Site)]
    pub by: By,
}

/// Arguments of `alloc-report diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile before the change.
    pub before: PathBuf,
    /// The profile after the change.
    pub after: PathBuf,
    /// Output SVG file of the differential flamegraph (`-` for stdout, which then gets no
    /// table).
    #[arg(short, long, default_value = "diff.svg")]
    pub output: PathBuf,
    /// How many call sites (or span paths) to list in each table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// How to draw.
    #[command(flatten)]
    pub draw: DrawArgs,
    /// Compare call stacks (default) or tracing span paths (the profiles' `spans` tables).
    #[arg(long, value_enum, default_value_t = By::Site)]
    pub by: By,
    /// With `--by span`: follow each span path by the call stacks sampled in it.
    #[arg(long, requires = "by")]
    pub stacks: bool,
}

/// Arguments of `alloc-report export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The profile file (JSON written by allocscope).
    pub profile: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The figure of folded stacks (pprof carries all of them).
    #[arg(long, value_enum, default_value_t = Metric::Bytes)]
    pub metric: Metric,
    /// Output file (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

impl LoadArgs {
    /// Reads a profile, symbolizes the call sites it holds as raw addresses and, unless
    /// `--all-frames`, trims the stacks ([`crate::report::names::trim_profile`]); shows
    /// progress if that takes long.
    pub fn read(&self, path: &Path) -> anyhow::Result<Profile> {
        let mut profile = self.read_symbolized(path)?;
        if !self.all_frames {
            crate::report::names::trim_profile(&mut profile);
        }
        Ok(profile)
    }

    /// Reads and symbolizes a profile, nothing trimmed.
    pub fn read_symbolized(&self, path: &Path) -> anyhow::Result<Profile> {
        let mut profile = {
            let _progress = Progress::start(format!("reading {}", path.display()));
            Profile::read(path)?
        };
        if profile.needs_symbolization() {
            let progress = Progress::start(format!("symbolizing {}", path.display()));
            let options = crate::observe::symbolize::SymbolizeOptions {
                binaries: self.binary.clone(),
                debug_dirs: self.debug_dir.clone(),
            };
            let warnings = crate::observe::symbolize::symbolize(&mut profile, &options)
                .with_context(|| path.display().to_string())?;
            drop(progress);
            // Missing names are not an error (the report still goes out), but never silent.
            for w in warnings {
                eprintln!("alloc-report: warning: {}: {w}", path.display());
            }
        }
        Ok(profile)
    }
}

impl Command {
    /// Runs the subcommand, reading profiles with the default [`LoadArgs`].
    pub fn run(self) -> anyhow::Result<()> {
        self.run_keeping(&LoadArgs::default(), &mut Vec::new())
    }

    /// Runs the subcommand and hands the profiles it read to `keep` rather than freeing them,
    /// so that [`main`] can leave them to the end of the process: freeing a large profile
    /// block by block is a noticeable part of a short run.
    fn run_keeping(self, load: &LoadArgs, keep: &mut Vec<Profile>) -> anyhow::Result<()> {
        let read_profile = |path: &Path| load.read(path);
        match self {
            Command::Flamegraph(args) => {
                let profile = read_profile(&args.profile)?;
                let mut svg = Vec::new();
                if args.by == By::Span {
                    if profile.spans.is_empty() {
                        bail!("{}: {}", args.profile.display(), no_spans_error());
                    }
                    write_span_flamegraph(&profile, &args.draw.options(), args.stacks, &mut svg)
                        .with_context(|| args.profile.display().to_string())?;
                } else {
                    let _progress = Progress::start("rendering flamegraph");
                    write_flamegraph(&profile, &args.draw.options(), &mut svg)
                        .with_context(|| args.profile.display().to_string())?;
                }
                Output::from_arg(&args.output).write(&svg)?;
                keep.push(profile);
            }
            Command::Summary(args) if args.by == By::Span => {
                let profile = read_profile(&args.profile)?;
                if profile.spans.is_empty() {
                    bail!("{}: {}", args.profile.display(), no_spans_error());
                }
                let summary = SpanSummary::new(&profile, args.top);
                let text =
                    summary_output(args.json, || summary.to_json(), |w| summary.write_text(w))?;
                Output::Stdout.write(&text)?;
                keep.push(profile);
            }
            Command::Summary(args) => {
                let profile = read_profile(&args.profile)?;
                let summary = Summary::new(&profile, args.top);
                let text =
                    summary_output(args.json, || summary.to_json(), |w| summary.write_text(w))?;
                Output::Stdout.write(&text)?;
                keep.push(profile);
            }
            Command::Diff(args) => {
                let before = read_profile(&args.before)?;
                let after = read_profile(&args.after)?;
                let mut svg = Vec::new();
                if args.by == By::Span {
                    if before.spans.is_empty() && after.spans.is_empty() {
                        bail!(
                            "{} and {}: {}",
                            args.before.display(),
                            args.after.display(),
                            no_spans_error()
                        );
                    }
                    write_span_diff_flamegraph(
                        &before,
                        &after,
                        &args.draw.options(),
                        args.stacks,
                        &mut svg,
                    )
                    .with_context(|| {
                        format!("{} vs {}", args.before.display(), args.after.display())
                    })?;
                } else {
                    let _progress = Progress::start("rendering differential flamegraph");
                    write_diff_flamegraph(&before, &after, &args.draw.options(), &mut svg)
                        .with_context(|| {
                            format!("{} vs {}", args.before.display(), args.after.display())
                        })?;
                }
                let output = Output::from_arg(&args.output);
                output.write(&svg)?;
                if output != Output::Stdout {
                    let mut table = Vec::new();
                    if args.by == By::Span {
                        write_span_changes(&before, &after, args.top, &mut table)?;
                    } else {
                        write_change_tables(&before, &after, args.top, &mut table)?;
                    }
                    Output::Stdout.write(&table)?;
                }
                keep.push(before);
                keep.push(after);
            }
            Command::Export(args) => {
                let output = match &args.output {
                    Some(path) => Output::from_arg(path),
                    None => Output::Stdout,
                };
                if args.format == ExportFormat::Pprof
                    && output == Output::Stdout
                    && std::io::stdout().is_terminal()
                {
                    bail!("refusing to write binary pprof data to a terminal; use -o FILE");
                }
                let profile = read_profile(&args.profile)?;
                let bytes = {
                    let _progress = Progress::start("exporting");
                    export(&profile, args.format, args.metric)
                };
                output.write(&bytes)?;
                keep.push(profile);
            }
            Command::Html(args) => {
                let profile = read_profile(&args.profile)?;
                let html = {
                    let _progress = Progress::start("rendering HTML report");
                    let options = HtmlOptions {
                        title: args.title.clone(),
                        diagnosis: profile.gap.as_ref().map(|g| vec![g.diagnosis()]),
                    };
                    html::render_with_options(&profile, &options)
                };
                Output::from_arg(&args.output).write(html.as_bytes())?;
                keep.push(profile);
            }
            Command::Compare(args) => {
                let stems: Vec<String> = args
                    .profiles
                    .iter()
                    .map(|p| {
                        p.file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                let mut loaded = Vec::new();
                for (path, stem) in args.profiles.iter().zip(&stems) {
                    let unique = stems.iter().filter(|s| *s == stem).count() == 1;
                    let name = if unique {
                        stem.clone()
                    } else {
                        path.display().to_string()
                    };
                    loaded.push((name, read_profile(path)?));
                }
                let comparison = compare::compare(&loaded);
                let text = if args.json {
                    let mut json = serde_json::to_string_pretty(&comparison)?;
                    json.push('\n');
                    json
                } else {
                    comparison.to_string()
                };
                Output::Stdout.write(text.as_bytes())?;
                keep.extend(loaded.into_iter().map(|(_, p)| p));
            }
            Command::Symbolize(args) => {
                let profile = load.read_symbolized(&args.profile)?;
                profile.write(&args.output)?;
                keep.push(profile);
            }
            Command::Check(args) => {
                if !args.run()? {
                    bail!("{}: over budget", args.profile.display());
                }
            }
        }
        Ok(())
    }
}

/// Parses the command line, runs it, and turns an error into one line on stderr and exit
/// status 1 (clap's own errors exit with status 2).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Check(args) = &cli.command {
        // Its own exit statuses: 1 means over budget, so bad input is 2.
        return args.main();
    }
    let mut profiles = Vec::new();
    let result = cli.command.run_keeping(&cli.load, &mut profiles);
    std::mem::forget(profiles);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alloc-report: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once (an error whose message already
/// quotes its source, like an I/O error with its path, does not repeat it).
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message.replace(['\n', '\r'], " ")
}

/// A summary's output: its JSON with `--json`, else its text.
fn summary_output(
    json: bool,
    to_json: impl FnOnce() -> String,
    write_text: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<Vec<u8>> {
    if json {
        return Ok(to_json().into_bytes());
    }
    let mut text = Vec::new();
    write_text(&mut text)?;
    Ok(text)
}
