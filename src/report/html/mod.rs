//! The self-contained HTML report: one file that opens from disk, with the profile and the
//! page's sources (`viewer/index.html`, `viewer/style.css` and the scripts of `viewer/`, one per
//! section of the page) embedded.
//!
//! The page needs no network, no server and no build step: the sources are plain
//! HTML/CSS/JavaScript, compiled into the binary with `include_str!`, and the data travels as
//! JSON inside a `<script type="application/json">` element. Every `<` of that JSON is written
//! as `\u003c`, so no frame name (say `</script>`) can end the element early.
//!
//! The embedded data is the profile reshaped for the page: frames are deduplicated into one
//! table and call sites refer to them by index, column by column, which keeps a report of
//! 100,000 stacks a few megabytes instead of a few hundred. The words travel with it: each gap
//! term's label, description and verdict from [`GapTerm`], the diagnosis
//! ([`GapBreakdown::diagnosis`]), the container sentence
//! ([`container_sentence`](crate::gap_term::container_sentence)) and, for a flushed profile,
//! the note saying so ([`ProfileMeta::kind_sentence`]), so the page never words them itself.
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

use crate::model::gap_term::GapTerm;
use crate::model::profile::{Profile, ProfileMeta, TimelinePoint, Totals};
use crate::model::spans::SpanStats;
use crate::observe::gap::GapBreakdown;
use crate::observe::snapshot::SizeClassCounts;

/// `(file name, contents)` of a file of `viewer/`, by its path from the manifest directory
/// (so it holds wherever this file sits in `src/`).
macro_rules! viewer_file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/viewer/", $name)),
        )
    };
}

const INDEX_HTML: &str = viewer_file!("index.html").1;
const STYLE_CSS: &str = viewer_file!("style.css").1;

/// The viewer's scripts, in the order they are inlined into one `<script>` element (and
/// listed in `viewer/index.html`): the helpers and the number formatter, one file per section
/// of the page, the self-test, then `main.js`, which draws the page.
const SCRIPTS: [(&str, &str); 10] = [
    viewer_file!("util.js"),
    viewer_file!("header.js"),
    viewer_file!("gap.js"),
    viewer_file!("timeline.js"),
    viewer_file!("sizes.js"),
    viewer_file!("spans.js"),
    viewer_file!("sites.js"),
    viewer_file!("flame.js"),
    viewer_file!("selftest.js"),
    viewer_file!("main.js"),
];

/// The script that drives the page and reports what it showed (URL hash `#selftest`): only in
/// pages rendered by [`render_with_self_test`].
const SELF_TEST: &str = "selftest.js";

/// The tags of `viewer/index.html` that [`render`] replaces by the inlined sources and data.
/// Opened as is (during development), the page loads the sources beside it and shows that no
/// profile is embedded.
const STYLE_TAG: &str = r#"<link rel="stylesheet" href="style.css">"#;
const DATA_TAG: &str = r#"<script type="application/json" id="profile-data"></script>"#;

/// The `<script src>` tags of `viewer/index.html`, one line per entry of [`SCRIPTS`].
fn script_tags() -> String {
    SCRIPTS
        .iter()
        .map(|(name, _)| format!(r#"<script src="{name}"></script>"#))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of the embedded data's `format` field, checked by `main.js`.
const DATA_FORMAT: &str = "allocscope-viewer-data";
/// The embedded data's `version`, checked by `main.js` (2: with the gap's words).
const DATA_VERSION: u32 = 2;

/// Options of [`render_with_options`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HtmlOptions {
    /// The page title; default `allocscope: PROGRAM`.
    pub title: Option<String>,
    /// Sentences explaining the RSS gap, shown under the gap chart; default: the
    /// [diagnosis](GapBreakdown::diagnosis) of the gap at exit (else at the peak).
    pub diagnosis: Option<Vec<String>>,
}

/// Renders `profile` as a self-contained HTML page with default options.
pub fn render(profile: &Profile) -> String {
    render_with_options(profile, &HtmlOptions::default())
}

/// Renders `profile` as a self-contained HTML page.
pub fn render_with_options(profile: &Profile, options: &HtmlOptions) -> String {
    render_page(profile, options, false)
}

/// Renders `profile` like [`render_with_options`], with the page's self-test included
/// (`viewer/selftest.js`): opened with the URL hash `#selftest`, the page clicks through its
/// sections and writes what it showed as JSON into `<pre id="selftest">`. For the browser
/// test (`tests/html_report.rs`); reports for people leave it out.
pub fn render_with_self_test(profile: &Profile, options: &HtmlOptions) -> String {
    render_page(profile, options, true)
}

fn render_page(profile: &Profile, options: &HtmlOptions, self_test: bool) -> String {
    let data = ViewerData::new(profile, options);
    // Serializing borrowed plain data into a String cannot fail (no maps with non-string
    // keys, no I/O); an error here is a bug in `ViewerData`.
    let json = serde_json::to_string(&data).expect("viewer data serializes");
    let json = escape_for_script(&json);
    let data_tag = format!(r#"<script type="application/json" id="profile-data">{json}</script>"#);
    let mut script = String::from("<script>\n");
    for (name, source) in SCRIPTS {
        if name != SELF_TEST || self_test {
            script.push_str(source);
        }
    }
    script.push_str("</script>");
    INDEX_HTML
        .replacen(STYLE_TAG, &format!("<style>\n{STYLE_CSS}</style>"), 1)
        .replacen(&script_tags(), &script, 1)
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
    /// Sentences explaining the gap (none without a gap).
    diagnosis: Vec<String>,
    /// Each gap term's key, sign and words, in `GapTerm::ALL` order.
    gap_terms: Vec<TermWords>,
    /// For a flushed profile, the sentence saying so ([`ProfileMeta::kind_sentence`]).
    profile_note: Option<String>,
    /// RSS against the container's limit ([`crate::gap_term::container_sentence`]), when the
    /// profile has cgroup figures.
    container: Option<String>,
    /// Which hierarchy those figures come from (`cgroup v2`, `cgroup v1`).
    cgroup_version: Option<&'static str>,
    meta: &'a ProfileMeta,
    totals: &'a Totals,
    size_classes: &'a [SizeClassCounts],
    gap: Option<&'a GapBreakdown>,
    gap_at_peak: Option<&'a GapBreakdown>,
    /// The gap over mimalloc when the profile was written (its terms are
    /// `mimalloc_gap_terms`).
    mimalloc_gap: Option<&'a crate::model::gap_mimalloc::MimallocGap>,
    /// Each term of a gap over mimalloc, in `GapTerm::MIMALLOC` order.
    mimalloc_gap_terms: Vec<TermWords>,
    /// Over an allocator without statistics: what can be known of RSS.
    partial_gap: Option<&'a crate::model::gap_partial::PartialGap>,
    timeline: &'a [TimelinePoint],
    /// Memory by tracing span (empty without `SpanLayer`).
    spans: &'a [SpanStats],
    frames: FrameTable<'a>,
    sites: SiteColumns,
}

/// What the page says about one gap term: [`GapTerm`]'s words.
#[derive(Serialize)]
struct TermWords {
    key: &'static str,
    /// +1, or −1 for a term inside the heap terms but not resident.
    sign: i64,
    label: &'static str,
    /// The label of its table row ("less untouched …" for the term that is subtracted).
    row_label: &'static str,
    description: &'static str,
    verdict: &'static str,
}

impl TermWords {
    fn of(t: GapTerm) -> TermWords {
        TermWords {
            key: t.key(),
            sign: t.sign(),
            label: t.label(),
            row_label: t.row_label(),
            description: t.description(),
            verdict: t.verdict(),
        }
    }
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
    /// The tracing span path of each site's samples (one stack seen in two spans is two
    /// sites); left out when no site has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    span: Vec<Option<String>>,
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
            sites.span.push(site.span.clone());
        }
        if sites.span.iter().all(Option::is_none) {
            sites.span.clear();
        }
        ViewerData {
            format: DATA_FORMAT,
            version: DATA_VERSION,
            title: options
                .title
                .clone()
                .unwrap_or_else(|| format!("allocscope: {}", p.meta.program)),
            diagnosis: options.diagnosis.clone().unwrap_or_else(|| {
                p.gap
                    .as_ref()
                    .or(p.gap_at_peak.as_ref())
                    .map(|g| vec![g.diagnosis()])
                    .unwrap_or_default()
            }),
            gap_terms: GapTerm::ALL.iter().map(|&t| TermWords::of(t)).collect(),
            profile_note: p.meta.kind_sentence(),
            container: p
                .cgroup
                .as_ref()
                .map(crate::model::gap_term::container_sentence),
            cgroup_version: p.cgroup.as_ref().map(|c| c.version.label()),
            meta: &p.meta,
            totals: &p.totals,
            size_classes: &p.size_classes,
            gap: p.gap.as_ref(),
            gap_at_peak: p.gap_at_peak.as_ref(),
            mimalloc_gap: p.mimalloc_gap.as_ref(),
            mimalloc_gap_terms: GapTerm::MIMALLOC
                .iter()
                .map(|&t| TermWords::of(t))
                .collect(),
            partial_gap: p.partial_gap.as_ref(),
            timeline: &p.timeline,
            spans: &p.spans,
            frames,
            sites,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved fixture profile with a gap (see `tests/support/fixtures.rs`).
    const SMALL_PROFILE: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/report_golden/profiles/kvstore-before.json"
    ));

    #[test]
    fn template_has_each_placeholder_once() {
        for tag in [STYLE_TAG, &script_tags(), DATA_TAG] {
            assert_eq!(
                INDEX_HTML.matches(tag).count(),
                1,
                "{tag} in viewer/index.html"
            );
        }
    }

    #[test]
    fn inlined_sources_cannot_close_their_elements() {
        for (name, source) in SCRIPTS {
            assert!(!source.to_ascii_lowercase().contains("</script"), "{name}");
            assert!(!source.contains("<!--"), "{name}");
        }
        assert!(!STYLE_CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn self_test_only_when_asked_for() {
        let p = Profile::from_slice(SMALL_PROFILE, "kvstore-before.json").unwrap();
        let options = HtmlOptions::default();
        let plain = render_with_options(&p, &options);
        let tested = render_with_self_test(&p, &options);
        assert!(!plain.contains("function selfTest("));
        assert!(tested.contains("function selfTest("));
        // Everything else is inlined in both, in the order of `SCRIPTS`.
        for page in [&plain, &tested] {
            assert!(!page.contains("<script src"));
            let at: Vec<usize> = ["function el(", "function renderGap(", "function main("]
                .iter()
                .map(|f| page.find(f).unwrap())
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        }
    }

    #[test]
    fn gap_words_and_diagnosis_come_from_rust() {
        let p = Profile::from_slice(SMALL_PROFILE, "kvstore-before.json").unwrap();
        let gap = p.gap.unwrap();
        let data = serde_json::to_value(ViewerData::new(&p, &HtmlOptions::default())).unwrap();
        assert_eq!(data["diagnosis"], serde_json::json!([gap.diagnosis()]));
        let terms = data["gap_terms"].as_array().unwrap();
        assert_eq!(terms.len(), GapTerm::ALL.len());
        for (t, v) in GapTerm::ALL.iter().zip(terms) {
            assert_eq!(v["key"], t.key());
            assert_eq!(v["label"], t.label());
            assert_eq!(v["row_label"], t.row_label());
            assert_eq!(v["description"], t.description());
            assert_eq!(v["verdict"], t.verdict());
            assert_eq!(v["sign"], t.sign());
        }
        // A caller's sentences replace the computed ones.
        let options = HtmlOptions {
            diagnosis: Some(vec!["Given.".into()]),
            ..HtmlOptions::default()
        };
        let data = serde_json::to_value(ViewerData::new(&p, &options)).unwrap();
        assert_eq!(data["diagnosis"], serde_json::json!(["Given."]));
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
