//! `alloc-report`: flamegraphs, summaries, diffs and exports of allocscope profiles.
//! Everything is in the library, [`allocscope::report`]; run `alloc-report --help`.

fn main() -> std::process::ExitCode {
    allocscope::report::cli::main()
}
