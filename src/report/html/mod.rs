//! The self-contained HTML report: one file that opens from disk, with the profile and the
//! page's sources (`viewer/index.html`, `viewer/style.css`, `viewer/app.js`) embedded.
//!
//! The page needs no network, no server and no build step: the sources are plain
//! HTML/CSS/JavaScript, compiled into the binary with `include_str!`, and the data travels as
//! JSON inside a `<script type="application/json">` element. Every `<` of that JSON is written
//! as `\u003c`, so no frame name (say `</script>`) can end the element early.
//!
//! The embedded data is the profile reshaped for the page: frames are deduplicated into one
//! table and call sites refer to them by index, column by column, which keeps a report of
//! 100,000 stacks a few megabytes instead of a few hundred.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let profile = allocscope::profile::Profile::read("allocscope.json")?;
//! let html = allocscope::report::html::render(&profile);
//! allocscope::profile::write_atomically("report.html".as_ref(), html.as_bytes())?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;

use serde::Serialize;

use crate::model::profile::{Profile, ProfileMeta, TimelinePoint, Totals};
use crate::observe::gap::GapBreakdown;
use crate::observe::snapshot::SizeClassCounts;

const INDEX_HTML: &str = include_str!("../../../viewer/index.html");
const STYLE_CSS: &str = include_str!("../../../viewer/style.css");
const APP_JS: &str = include_str!("../../../viewer/app.js");

/// The tags of `viewer/index.html` that [`render`] replaces by the inlined sources and data.
/// Opened as is (during development), the page loads the sources beside it and shows that no
/// profile is embedded.
const STYLE_TAG: &str = r#"<link rel="stylesheet" href="style.css">"#;
const SCRIPT_TAG: &str = r#"<script src="app.js"></script>"#;
const DATA_TAG: &str = r#"<script type="application/json" id="profile-data"></script>"#;

/// The value of the embedded data's `format` field, checked by `app.js`.
const DATA_FORMAT: &str = "allocscope-viewer-data";

/// Options of [`render_with_options`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HtmlOptions {
    /// The page title; default `allocscope: PROGRAM`.
    pub title: Option<String>,
    /// Sentences explaining the RSS gap (e.g. from `GapBreakdown::explain()`), shown under the
    /// gap chart instead of the ones the page derives from the gap terms itself.
    pub diagnosis: Option<Vec<String>>,
}

/// Renders `profile` as a self-contained HTML page with default options.
pub fn render(profile: &Profile) -> String {
    render_with_options(profile, &HtmlOptions::default())
}

/// Renders `profile` as a self-contained HTML page.
pub fn render_with_options(profile: &Profile, options: &HtmlOptions) -> String {
    let data = ViewerData::new(profile, options);
    // Serializing borrowed plain data into a String cannot fail (no maps with non-string
    // keys, no I/O); an error here is a bug in `ViewerData`.
    let json = serde_json::to_string(&data).expect("viewer data serializes");
    let json = escape_for_script(&json);
    let data_tag = format!(r#"<script type="application/json" id="profile-data">{json}</script>"#);
    INDEX_HTML
        .replacen(STYLE_TAG, &format!("<style>\n{STYLE_CSS}</style>"), 1)
        .replacen(SCRIPT_TAG, &format!("<script>\n{APP_JS}</script>"), 1)
        .replacen(DATA_TAG, &data_tag, 1)
}

/// Makes JSON safe inside a `<script>` element: `<` only occurs inside JSON strings, where
/// `\u003c` means the same character, and without any `<` the HTML parser cannot see
/// `</script>` or `<!--`.
fn escape_for_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// What the page reads: the profile with frames deduplicated and sites stored by column.
#[derive(Serialize)]
struct ViewerData<'a> {
    format: &'static str,
    version: u32,
    title: String,
    diagnosis: Option<&'a [String]>,
    meta: &'a ProfileMeta,
    totals: &'a Totals,
    size_classes: &'a [SizeClassCounts],
    gap: Option<&'a GapBreakdown>,
    gap_at_peak: Option<&'a GapBreakdown>,
    timeline: &'a [TimelinePoint],
    frames: FrameTable<'a>,
    sites: SiteColumns,
}

/// Distinct frames by (function, file, line, inlined); the address is not shown.
#[derive(Serialize, Default)]
struct FrameTable<'a> {
    function: Vec<&'a str>,
    file: Vec<Option<&'a str>>,
    line: Vec<Option<u32>>,
    inlined: Vec<bool>,
}

/// What makes two frames the same on the page: (function, file, line, inlined).
type FrameKey<'a> = (&'a str, Option<&'a str>, Option<u32>, bool);

/// Call sites, one vector per field, all of the same length, in the profile's order.
#[derive(Serialize, Default)]
struct SiteColumns {
    /// Indices into the frame table, leaf first.
    stack: Vec<Vec<u32>>,
    allocs: Vec<u64>,
    bytes: Vec<u64>,
    live_blocks: Vec<u64>,
    live_bytes: Vec<u64>,
    peak_bytes: Vec<u64>,
    slack_bytes: Vec<u64>,
    samples: Vec<u64>,
    freed: Vec<u64>,
    under_1us: Vec<u64>,
    under_1ms: Vec<u64>,
    under_1s: Vec<u64>,
    median_ns: Vec<Option<u64>>,
    /// `[size, allocs]` pairs, ascending by size.
    size_classes: Vec<Vec<[u64; 2]>>,
}

impl<'a> ViewerData<'a> {
    fn new(p: &'a Profile, options: &'a HtmlOptions) -> Self {
        let mut frames = FrameTable::default();
        let mut index: HashMap<FrameKey<'a>, u32> = HashMap::new();
        let mut sites = SiteColumns::default();
        for site in &p.sites {
            let stack = site
                .frames
                .iter()
                .map(|f| {
                    let key = (f.function.as_str(), f.file.as_deref(), f.line, f.inlined);
                    *index.entry(key).or_insert_with(|| {
                        frames.function.push(key.0);
                        frames.file.push(key.1);
                        frames.line.push(key.2);
                        frames.inlined.push(key.3);
                        (frames.function.len() - 1) as u32
                    })
                })
                .collect();
            sites.stack.push(stack);
            sites.allocs.push(site.allocs);
            sites.bytes.push(site.bytes);
            sites.live_blocks.push(site.live_blocks);
            sites.live_bytes.push(site.live_bytes);
            sites.peak_bytes.push(site.peak_bytes);
            sites.slack_bytes.push(site.slack_bytes);
            sites.samples.push(site.samples);
            sites.freed.push(site.lifetimes.freed);
            sites.under_1us.push(site.lifetimes.under_1us);
            sites.under_1ms.push(site.lifetimes.under_1ms);
            sites.under_1s.push(site.lifetimes.under_1s);
            sites.median_ns.push(site.lifetimes.median_ns);
            sites.size_classes.push(
                site.size_classes
                    .iter()
                    .map(|c| [c.size, c.allocs])
                    .collect(),
            );
        }
        ViewerData {
            format: DATA_FORMAT,
            version: 1,
            title: options
                .title
                .clone()
                .unwrap_or_else(|| format!("allocscope: {}", p.meta.program)),
            diagnosis: options.diagnosis.as_deref(),
            meta: &p.meta,
            totals: &p.totals,
            size_classes: &p.size_classes,
            gap: p.gap.as_ref(),
            gap_at_peak: p.gap_at_peak.as_ref(),
            timeline: &p.timeline,
            frames,
            sites,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_each_placeholder_once() {
        for tag in [STYLE_TAG, SCRIPT_TAG, DATA_TAG] {
            assert_eq!(
                INDEX_HTML.matches(tag).count(),
                1,
                "{tag} in viewer/index.html"
            );
        }
    }

    #[test]
    fn inlined_sources_cannot_close_their_elements() {
        assert!(!APP_JS.to_ascii_lowercase().contains("</script"));
        assert!(!APP_JS.contains("<!--"));
        assert!(!STYLE_CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn escaped_json_has_no_angle_bracket_and_parses_back() {
        let json = serde_json::to_string(&["</script><!--<script>", "Vec<u8>"]).unwrap();
        let escaped = escape_for_script(&json);
        assert!(!escaped.contains('<'));
        let back: Vec<String> = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, ["</script><!--<script>", "Vec<u8>"]);
    }
}
