//! Symbolization: raw return addresses → frames with full Rust paths, file and line.
//!
//! By default this runs in `alloc-report`, not in the profiled process: at exit the process
//! records each call site's raw addresses and its executable objects ([`mappings`]: path,
//! build ID, load bias, executable segments) and parses no debug info. `alloc-report` then
//! reads the binary at its recorded path (or `--binary`, or a separate debug file) and
//! refuses a file whose build ID differs from the recorded one. `ALLOCSCOPE_SYMBOLIZE=exit`
//! runs the same code in the process at exit instead (see docs/symbolization.md for the
//! costs of each).
//!
//! Names (docs/symbolization.md, "Names"): a non-inlined frame is named from the ELF symbol
//! table (the mangled full path, demangled, hash stripped), which every build has, whatever
//! its `debug` setting. An inlined frame has only its DWARF name, which in
//! `debug = "line-tables-only"` builds is short (`from_str`, `{closure#0}`); it is qualified
//! with the crate and module its source file belongs to (the enclosing function's crate when
//! both files are in the same crate, otherwise the crate named by the file's package).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use object::{Object, ObjectSection, ObjectSymbol};

use crate::model::frame_name::{closure_spelling, dwarf_name};
use crate::model::profile::{Frame, Mapping, Profile, Segment};

// ---------------------------------------------------------------------------------------
// In the profiled process: the mappings.
// ---------------------------------------------------------------------------------------

/// The executable objects loaded in this process, the program first. Uses
/// `dl_iterate_phdr` and the program headers in memory: no file is opened and no debug info
/// is read, apart from `readlink /proc/self/exe` for the program's path.
pub(crate) fn mappings() -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::with_capacity(16);
    // SAFETY: `collect` only reads the `dl_phdr_info` the loader passes it, for the duration
    // of the call, and writes to `out` through the pointer we pass as `data`.
    unsafe {
        libc::dl_iterate_phdr(Some(collect), (&mut out as *mut Vec<Mapping>).cast());
    }
    if let Some(first) = out.first_mut() {
        if first.path.is_empty() {
            first.path = std::fs::read_link("/proc/self/exe")
                .map(|p| p.display().to_string())
                .unwrap_or_default();
        }
    }
    out.retain(|m| !m.segments.is_empty() && m.path.starts_with('/'));
    // A file without a build ID is identified by its size and modification time instead:
    // one `stat` per such object (usually none; the program when linked with
    // `--build-id=none`). The program through `/proc/self/exe`, which is the file that was
    // mapped even if another was since written at its path.
    for (i, m) in out.iter_mut().enumerate() {
        if m.build_id.is_none() {
            let path = if i == 0 {
                "/proc/self/exe"
            } else {
                m.path.as_str()
            };
            if let Some((size, mtime)) = file_stamp(Path::new(path)) {
                m.file_size = Some(size);
                m.file_mtime_ns = Some(mtime);
            }
        }
    }
    out
}

/// Size and modification time (ns since the Unix epoch) of a file.
fn file_stamp(path: &Path) -> Option<(u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path).ok()?;
    let ns = md
        .mtime()
        .checked_mul(1_000_000_000)?
        .checked_add(md.mtime_nsec())?;
    Some((md.size(), ns))
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the loader passes a valid `info` for this call; `data` is the `Vec` passed by
    // `mappings`, alive and not otherwise borrowed during `dl_iterate_phdr`.
    let (info, out) = unsafe { (&*info, &mut *data.cast::<Vec<Mapping>>()) };
    let bias: u64 = info.dlpi_addr;
    let path = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: `dlpi_name` is a NUL-terminated string owned by the loader.
        unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let phdrs: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
        &[]
    } else {
        // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers mapped with the object.
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
    };
    let mut segments = Vec::new();
    let mut build_id = None;
    for ph in phdrs {
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
            segments.push(Segment {
                start: bias.wrapping_add(ph.p_vaddr),
                end: bias.wrapping_add(ph.p_vaddr).wrapping_add(ph.p_memsz),
                file_offset: ph.p_offset,
            });
        } else if ph.p_type == libc::PT_NOTE && build_id.is_none() {
            let start = bias.wrapping_add(ph.p_vaddr) as usize;
            // SAFETY: a PT_NOTE segment lies inside a loaded PT_LOAD segment of the object
            // (the loader maps it; `p_memsz` bytes from its address are readable).
            let notes =
                unsafe { std::slice::from_raw_parts(start as *const u8, ph.p_memsz as usize) };
            build_id = gnu_build_id(notes).map(hex);
        }
    }
    out.push(Mapping {
        path,
        build_id,
        bias,
        segments,
        file_size: None,
        file_mtime_ns: None,
    });
    0
}

/// The descriptor of the `NT_GNU_BUILD_ID` note in a note segment, if any.
fn gnu_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
    };
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let kind = word(notes, 8)?;
        let name_end = 12usize.checked_add(align4(namesz)?)?;
        let desc_end = name_end.checked_add(align4(descsz)?)?;
        let name = notes.get(12..12 + namesz)?;
        let desc = notes.get(name_end..name_end.checked_add(descsz)?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return Some(desc);
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Resolution (alloc-report, or the process at exit with ALLOCSCOPE_SYMBOLIZE=exit).
// ---------------------------------------------------------------------------------------

/// Where to find the files of a profiled program when they are not at their recorded paths.
#[derive(Debug, Clone, Default)]
pub struct SymbolizeOptions {
    /// Copies of the program (or of its libraries), used instead of the recorded path when
    /// their build ID matches.
    pub binaries: Vec<PathBuf>,
    /// Directories holding separate debug files, as `.build-id/ab/cdef….debug` or under the
    /// binary's `.gnu_debuglink` name. `/usr/lib/debug` is always searched too.
    pub debug_dirs: Vec<PathBuf>,
}

/// Why a profile could not be symbolized.
#[derive(Debug, thiserror::Error)]
pub enum SymbolizeError {
    /// The program's file cannot be read.
    #[error(
        "cannot read the profiled program {path} ({reason}); pass --binary PATH with a copy of it"
    )]
    Missing {
        /// The recorded path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file's build ID is not the one recorded: it is another build.
    #[error("{path} has build ID {found}, the profile was recorded with {expected}: another build of the program, refusing to show wrong names (pass --binary with the binary that ran)")]
    BuildIdMismatch {
        /// The file.
        path: String,
        /// Its build ID.
        found: String,
        /// The recorded one.
        expected: String,
    },
    /// A file without a build ID whose size or modification time is not the recorded one.
    #[error("{path} is not the file that ran ({what}): another build of the program, refusing to show wrong names (pass --binary with the binary that ran)")]
    FileChanged {
        /// The file.
        path: String,
        /// What differs, with both values.
        what: String,
    },
    /// None of the `--binary` files has the recorded build ID.
    #[error("none of the --binary files ({paths}) has the profiled program's build ID {expected}")]
    NoBinaryMatches {
        /// The files given.
        paths: String,
        /// The recorded build ID.
        expected: String,
    },
    /// The file is not an object file this can read.
    #[error("{path}: not a readable ELF file: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Fills `frames` of every call site that has only a raw `stack`. Sites that already have
/// frames (version 1 profiles, profiles symbolized at exit or by `alloc-report symbolize`)
/// are left alone. Fails if the program itself cannot be found or is another build;
/// shared libraries that cannot be found give `[file+0xoffset]` frames instead.
///
/// Returns warnings, one line each, at most one per object (docs/symbolization.md,
/// "Warnings"): the program has frames it could not name (stripped, no debug file found), a
/// library that could not be read has frames in the profile, or a separate debug file was
/// ignored because it is from another build. The names are never wrong, but a user must
/// hear that they are missing: unnamed frames of a stripped program are its own code.
pub fn symbolize(
    profile: &mut Profile,
    options: &SymbolizeOptions,
) -> Result<Vec<String>, SymbolizeError> {
    if !profile.needs_symbolization() {
        return Ok(Vec::new());
    }
    let mut resolver = Resolver::new(&profile.mappings, options)?;
    for site in &mut profile.sites {
        if site.frames.is_empty() && !site.stack.is_empty() {
            let mut frames = Vec::with_capacity(site.stack.len() + 8);
            for &i in &site.stack {
                // An index outside the table (a hand-edited file) is an unknown frame.
                let a = profile.addresses.get(i as usize).copied().unwrap_or(0);
                frames.extend(resolver.frames(a).iter().cloned());
            }
            site.frames = frames;
        }
    }
    Ok(resolver.warnings())
}

/// Budgets (src/budget.rs): the frames of raw stacks (return addresses, innermost first)
/// captured in this very process, resolved from its own files. A stack whose program cannot
/// be read gets `[file+0xoffset]` or `?` frames rather than an error.
pub(crate) fn resolve_in_process(stacks: &[Vec<usize>]) -> Vec<Vec<Frame>> {
    let mappings = mappings();
    let mut resolver = Resolver::new(&mappings, &SymbolizeOptions::default()).ok();
    stacks
        .iter()
        .map(|stack| {
            let mut frames = Vec::with_capacity(stack.len() + 8);
            for &a in stack {
                match resolver.as_mut() {
                    Some(r) => frames.extend(r.frames(a as u64).iter().cloned()),
                    None => frames.push(Frame {
                        function: format!("{a:#x}"),
                        file: None,
                        line: None,
                        addr: a as u64,
                        inlined: false,
                    }),
                }
            }
            frames
        })
        .collect()
}

/// The profiled process symbolizing its own profiles again and again (the HTTP endpoints,
/// feature `http`): the files it loaded and every address it resolved stay in memory, so a
/// second profile of the same process costs only its new addresses. Lives on one internal
/// thread (the loaded DWARF is reference-counted, not `Send`), so its memory is
/// allocscope's own (`profiler` term of the gap), never the program's. The objects are those
/// loaded when it was made; a library loaded later gets `?` frames.
#[cfg(feature = "http")]
pub(crate) struct InProcess {
    resolver: Option<Resolver<'static>>,
}

#[cfg(feature = "http")]
impl InProcess {
    /// Loads the process's objects (the program's symbol table and DWARF): milliseconds to
    /// seconds, once.
    pub(crate) fn new() -> InProcess {
        // The resolver borrows the mappings for as long as it lives, which is as long as
        // the server that keeps it: for the rest of the process. A few KiB, once per server.
        let mappings: &'static [Mapping] = Box::leak(mappings().into_boxed_slice());
        InProcess {
            resolver: Resolver::new(mappings, &SymbolizeOptions::default()).ok(),
        }
    }

    /// Fills the frames of every call site of `profile` (collected in this process) that has
    /// only a raw stack; an address that cannot be resolved becomes a `0x…` frame.
    pub(crate) fn symbolize(&mut self, profile: &mut Profile) {
        for site in &mut profile.sites {
            if !site.frames.is_empty() || site.stack.is_empty() {
                continue;
            }
            let stack: Vec<u64> = site
                .stack
                .iter()
                .map(|&i| profile.addresses.get(i as usize).copied().unwrap_or(0))
                .collect();
            site.frames = self.frames_of(&stack);
        }
    }

    /// The frames of a raw stack (return addresses, innermost first), inlined frames
    /// included; an address that cannot be resolved becomes a `0x…` frame.
    pub(crate) fn frames_of(&mut self, stack: &[u64]) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(stack.len() + 8);
        for &a in stack {
            match self.resolver.as_mut() {
                Some(r) => frames.extend(r.frames(a).iter().cloned()),
                None => frames.push(Frame {
                    function: format!("{a:#x}"),
                    file: None,
                    line: None,
                    addr: a,
                    inlined: false,
                }),
            }
        }
        frames
    }
}

/// `ALLOCSCOPE_SYMBOLIZE=exit`: symbolize in the profiled process, from its own files.
pub(crate) fn at_exit_requested() -> bool {
    match std::env::var("ALLOCSCOPE_SYMBOLIZE") {
        Ok(v) if v.eq_ignore_ascii_case("exit") => true,
        Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("report") => false,
        Ok(v) => {
            eprintln!(
                "allocscope: ALLOCSCOPE_SYMBOLIZE={v:?} not understood (exit or report); symbolizing at report time"
            );
            false
        }
        Err(_) => false,
    }
}

type Reader = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// A text symbol of the ELF symbol table.
struct Sym {
    addr: u64,
    size: u64,
    name: String,
}

/// One object file, loaded for lookups.
struct Loaded {
    dwarf: Option<addr2line::Context<Reader>>,
    symbols: Vec<Sym>,
    /// The file read (the recorded path or a `--binary`).
    path: PathBuf,
    /// What the user should know about how it was found: separate debug files not used
    /// (another build), a `--binary` matched by size only.
    notes: Vec<String>,
}

impl Loaded {
    fn symbol(&self, probe: u64) -> Option<&Sym> {
        let i = self.symbols.partition_point(|s| s.addr <= probe);
        let s = self.symbols.get(i.checked_sub(1)?)?;
        (s.size == 0 || probe < s.addr.saturating_add(s.size)).then_some(s)
    }
}

struct Resolver<'m> {
    mappings: &'m [Mapping],
    loaded: Vec<Option<Loaded>>,
    /// Per mapping: why it could not be loaded (a library; the program's failure is an
    /// error).
    failed: Vec<Option<String>>,
    /// Per mapping: how many distinct addresses got no name (`[file+0xoffset]`).
    unresolved: Vec<usize>,
    cache: HashMap<u64, Vec<Frame>>,
    crates: CrateNames,
}

impl<'m> Resolver<'m> {
    fn new(mappings: &'m [Mapping], options: &SymbolizeOptions) -> Result<Self, SymbolizeError> {
        let mut loaded = Vec::with_capacity(mappings.len());
        let mut failed = Vec::with_capacity(mappings.len());
        for (i, m) in mappings.iter().enumerate() {
            let l = load_mapping(i == 0, m, options);
            match l {
                Ok(l) => {
                    loaded.push(Some(l));
                    failed.push(None);
                }
                // The program must resolve; a library that cannot only loses its names.
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    loaded.push(None);
                    failed.push(Some(e.to_string()));
                }
            }
        }
        Ok(Resolver {
            mappings,
            loaded,
            failed,
            unresolved: vec![0; mappings.len()],
            cache: HashMap::new(),
            crates: CrateNames::default(),
        })
    }

    /// One line per object whose frames could not all be named, or whose debug file was
    /// ignored: the program when any of its addresses got no name; a library only when
    /// its file could not be read (a system library stripped of its symbol table misses a
    /// few runtime frames below `main`, which reports trim anyway: no warning for those).
    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, m) in self.mappings.iter().enumerate() {
            let unresolved = self.unresolved.get(i).copied().unwrap_or(0);
            let loaded = self.loaded.get(i).and_then(Option::as_ref);
            let notes = loaded.map_or(&[][..], |l| l.notes.as_slice());
            let path = loaded.map_or_else(|| m.path.clone(), |l| l.path.display().to_string());
            let failed = self.failed.get(i).and_then(Option::as_deref);
            let mut why: Vec<String> = Vec::new();
            if let Some(f) = failed {
                why.push(f.to_string());
            } else if unresolved > 0 {
                why.push("it has no symbol table or debug info for them".to_string());
            }
            let program = i == 0;
            if unresolved > 0 && (program || failed.is_some()) {
                why.extend(notes.iter().cloned());
                out.push(format!(
                    "{unresolved} return address{} in {path} could not be named, shown as [{}+0x…] ({}); pass --binary with a build of it that has debug info, or --debug-dir with the directory of its debug file",
                    if unresolved == 1 { "" } else { "es" },
                    file_name(&m.path),
                    why.join("; ")
                ));
            } else if !notes.is_empty() {
                let notes = notes.join("; ");
                if notes.contains(&path) {
                    out.push(notes);
                } else {
                    out.push(format!("{path}: {notes}"));
                }
            }
        }
        out
    }

    /// The frames of one return address, innermost (inlined) first.
    fn frames(&mut self, ret: u64) -> &[Frame] {
        if !self.cache.contains_key(&ret) {
            let frames = self.resolve(ret);
            self.cache.insert(ret, frames);
        }
        self.cache.get(&ret).map_or(&[], Vec::as_slice)
    }

    fn resolve(&mut self, ret: u64) -> Vec<Frame> {
        let addr = ret.saturating_sub(1);
        let unknown = |function: String| {
            vec![Frame {
                function,
                file: None,
                line: None,
                addr,
                inlined: false,
            }]
        };
        let Some(i) = self
            .mappings
            .iter()
            .position(|m| m.segments.iter().any(|s| s.start <= addr && addr < s.end))
        else {
            return unknown("?".to_string());
        };
        let m = &self.mappings[i];
        let probe = addr.wrapping_sub(m.bias);
        let Some(Some(l)) = self.loaded.get(i) else {
            if let Some(n) = self.unresolved.get_mut(i) {
                *n += 1;
            }
            return unknown(format!("[{}+{probe:#x}]", file_name(&m.path)));
        };
        // DWARF frames, innermost first: (name, file, line).
        let mut raw: Vec<(Option<String>, Option<String>, Option<u32>)> = Vec::new();
        if let Some(ctx) = &l.dwarf {
            if let Ok(mut it) = ctx.find_frames(probe).skip_all_loads() {
                while let Ok(Some(f)) = it.next() {
                    // Without the function's generic arguments, closures spelled as
                    // the symbol table spells them (docs/symbolization.md, "Names").
                    let name = f
                        .function
                        .as_ref()
                        .and_then(|n| n.raw_name().ok())
                        .map(|n| dwarf_name(&demangle(&n[..])));
                    let (file, line) = f
                        .location
                        .map_or((None, None), |loc| (loc.file.map(str::to_string), loc.line));
                    raw.push((name, file, line));
                }
            }
        }
        let symbol = l
            .symbol(probe)
            .map(|s| closure_spelling(&demangle(&s.name)).into_owned());
        if raw.is_empty() {
            let function = symbol.unwrap_or_else(|| {
                if let Some(n) = self.unresolved.get_mut(i) {
                    *n += 1;
                }
                format!("[{}+{probe:#x}]", file_name(&m.path))
            });
            return unknown(function);
        }
        // Name outermost first, so each inlined frame can be qualified from its caller.
        let n = raw.len();
        let mut frames: Vec<Frame> = Vec::with_capacity(n);
        let mut outer: Option<(String, Option<String>)> = None;
        for (k, (name, file, line)) in raw.into_iter().enumerate().rev() {
            let is_outermost = k == n - 1;
            let function = match (is_outermost, &symbol, name) {
                // The symbol table has the full path of every non-inlined function.
                (true, Some(s), _) => s.clone(),
                (_, _, Some(short)) if is_short(&short) => match &outer {
                    Some((caller, caller_file)) => {
                        self.crates
                            .qualify(&short, file.as_deref(), caller, caller_file.as_deref())
                    }
                    None => short,
                },
                (_, _, Some(name)) => name,
                (_, _, None) => "?".to_string(),
            };
            outer = Some((function.clone(), file.clone()));
            frames.push(Frame {
                function,
                file,
                line,
                addr,
                inlined: !is_outermost,
            });
        }
        frames.reverse();
        frames
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Demangles a symbol (legacy `_ZN…E` or v0 `_R…`) without its hash; other names as they are.
fn demangle(s: &str) -> String {
    match rustc_demangle::try_demangle(s) {
        // `{:#}` omits the `::h0123abcd…` hash.
        Ok(d) => format!("{d:#}"),
        Err(_) => s.to_string(),
    }
}

/// A name without a module path: `from_str`, `new<&[u64], &u64>`, `{closure#0}`.
fn is_short(name: &str) -> bool {
    if name.starts_with('<') {
        return false;
    }
    let head = name.split('<').next().unwrap_or(name);
    !head.contains("::")
}

/// Loads the object of one mapping: its file (recorded path or a `--binary` with the same
/// build ID), its symbol table, and DWARF from it or from its separate debug file.
fn load_mapping(
    is_program: bool,
    m: &Mapping,
    options: &SymbolizeOptions,
) -> Result<Loaded, SymbolizeError> {
    let recorded = m.path.trim_end_matches(" (deleted)").to_string();
    let data = pick_file(is_program, &recorded, m, &options.binaries)?;
    let obj = object::File::parse(&*data.1).map_err(|e| SymbolizeError::Unreadable {
        path: data.0.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut symbols = text_symbols(&obj);
    let has_dwarf = obj
        .section_by_name(".debug_line")
        .is_some_and(|s| s.size() > 0);
    let mut notes = data.2;
    let dwarf = if has_dwarf {
        load_dwarf(&obj)
    } else {
        match find_debug_file(&obj, &data.0, options, &mut notes) {
            Some(debug) => match object::File::parse(&*debug) {
                Ok(dobj) => {
                    let dsyms = text_symbols(&dobj);
                    if dsyms.len() > symbols.len() {
                        symbols = dsyms;
                    }
                    load_dwarf(&dobj)
                }
                Err(_) => None,
            },
            None => None,
        }
    };
    Ok(Loaded {
        dwarf,
        symbols,
        path: data.0,
        notes,
    })
}

/// The file to read for a mapping, and notes for the user: a `--binary` whose build ID
/// matches, else the recorded path, checked against the recorded build ID. A file without
/// a build ID is checked against the recorded size and modification time at its recorded
/// path, and a `--binary` is taken for it when its size is the recorded one (with a note:
/// a copy has another modification time, so the size is all there is to check).
fn pick_file(
    is_program: bool,
    recorded: &str,
    m: &Mapping,
    binaries: &[PathBuf],
) -> Result<(PathBuf, Vec<u8>, Vec<String>), SymbolizeError> {
    let build_id = m.build_id.as_deref();
    let read_id = |path: &Path| -> Result<(Vec<u8>, Option<String>), SymbolizeError> {
        let data = std::fs::read(path).map_err(|e| SymbolizeError::Missing {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let id = object::File::parse(&*data)
            .map_err(|e| SymbolizeError::Unreadable {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
            .build_id()
            .ok()
            .flatten()
            .map(hex);
        Ok((data, id))
    };
    if binaries.is_empty() {
        return check_recorded(recorded, m, read_id);
    }
    let mut mismatch = None;
    for b in binaries {
        let (data, id) = read_id(b)?;
        let shown = b.display().to_string();
        match (build_id, id, m.file_size) {
            (Some(want), Some(got), _) if want == got => return Ok((b.clone(), data, Vec::new())),
            (Some(want), got, _) => {
                mismatch = Some(SymbolizeError::BuildIdMismatch {
                    path: shown,
                    found: got.unwrap_or_else(|| "(none)".to_string()),
                    expected: want.to_string(),
                })
            }
            // The file that ran had no build ID: one that has one is another build.
            (None, Some(got), _) => {
                mismatch = Some(SymbolizeError::FileChanged {
                    path: shown,
                    what: gained_build_id(&got),
                })
            }
            (None, None, Some(size)) if data.len() as u64 == size => {
                let note = format!(
                    "--binary {shown} matched by size only ({size} bytes): the file that ran has no build ID (linked with --build-id=none), so the names are right only if it is a copy of that file"
                );
                return Ok((b.clone(), data, vec![note]));
            }
            (None, None, Some(size)) => {
                mismatch = Some(SymbolizeError::FileChanged {
                    path: shown,
                    what: other_size(data.len(), size),
                })
            }
            // A profile written before sizes were recorded: only the program's own file is
            // taken, on trust.
            (None, None, None) if is_program && binaries.len() == 1 => {
                let note = format!(
                    "--binary {shown} taken unchecked: the profile records neither a build ID nor a size for the program"
                );
                return Ok((b.clone(), data, vec![note]));
            }
            (None, None, None) => {}
        }
    }
    // No --binary is this mapping's file (e.g. it is a library): its recorded path.
    match check_recorded(recorded, m, read_id) {
        Ok(r) => Ok(r),
        Err(_) => match mismatch {
            Some(m) if binaries.len() == 1 => Err(m),
            _ => Err(SymbolizeError::NoBinaryMatches {
                paths: binaries
                    .iter()
                    .map(|b| b.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                expected: build_id.unwrap_or("(none)").to_string(),
            }),
        },
    }
}

/// The file at the recorded path, if it is the one that ran: the same build ID, or, without
/// one, the same size and modification time as recorded (when recorded).
fn check_recorded(
    recorded: &str,
    m: &Mapping,
    read_id: impl Fn(&Path) -> Result<(Vec<u8>, Option<String>), SymbolizeError>,
) -> Result<(PathBuf, Vec<u8>, Vec<String>), SymbolizeError> {
    let path = PathBuf::from(recorded);
    let (data, id) = read_id(&path)?;
    let changed = |what: String| SymbolizeError::FileChanged {
        path: recorded.to_string(),
        what,
    };
    match (m.build_id.as_deref(), id) {
        (Some(want), Some(got)) if want != got => Err(SymbolizeError::BuildIdMismatch {
            path: recorded.to_string(),
            found: got,
            expected: want.to_string(),
        }),
        (Some(want), None) => Err(SymbolizeError::BuildIdMismatch {
            path: recorded.to_string(),
            found: "(none)".to_string(),
            expected: want.to_string(),
        }),
        (Some(_), Some(_)) => Ok((path, data, Vec::new())),
        (None, Some(got)) => Err(changed(gained_build_id(&got))),
        (None, None) => {
            if let Some(size) = m.file_size.filter(|&s| s != data.len() as u64) {
                return Err(changed(other_size(data.len(), size)));
            }
            let now = file_stamp(&path).map(|(_, t)| t);
            if let Some(t) = m.file_mtime_ns.filter(|&t| Some(t) != now) {
                return Err(changed(format!(
                    "its modification time is {}, the file that ran (no build ID) had {} (ns since 1970)",
                    now.map_or_else(|| "unknown".to_string(), |n| n.to_string()),
                    t
                )));
            }
            Ok((path, data, Vec::new()))
        }
    }
}

/// Why a file that has a build ID is not the one that ran without one (`FileChanged`, for
/// `--binary` and the recorded path alike).
fn gained_build_id(got: &str) -> String {
    format!("it has build ID {got}, the file that ran had none")
}

/// Why a file of `len` bytes is not the one of `size` bytes that ran without a build ID.
fn other_size(len: usize, size: u64) -> String {
    format!("its size is {len} bytes, the file that ran (no build ID) had {size}")
}

/// The separate debug file of a stripped object: by build ID under each debug directory
/// (`.build-id/ab/cdef….debug`), then by its `.gnu_debuglink` name beside the binary, in
/// its `.debug/` subdirectory and in each debug directory. A candidate from another build
/// ([`same_build`]) is skipped, and why is added to `ignored`.
fn find_debug_file(
    obj: &object::File<'_>,
    binary: &Path,
    options: &SymbolizeOptions,
    ignored: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let id = obj.build_id().ok().flatten().map(hex);
    let mut dirs: Vec<PathBuf> = options.debug_dirs.clone();
    dirs.push(PathBuf::from("/usr/lib/debug"));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(id) = id.as_deref().filter(|id| id.len() > 2) {
        for d in &dirs {
            candidates.push(
                d.join(".build-id")
                    .join(&id[..2])
                    .join(format!("{}.debug", &id[2..])),
            );
        }
    }
    if let Ok(Some((name, _crc))) = obj.gnu_debuglink() {
        let name = String::from_utf8_lossy(name).into_owned();
        let bin_dir = binary.parent().unwrap_or(Path::new("."));
        candidates.push(bin_dir.join(&name));
        candidates.push(bin_dir.join(".debug").join(&name));
        for d in &dirs {
            candidates.push(d.join(&name));
        }
    }
    candidates.dedup();
    candidates.into_iter().find_map(|c| {
        let data = std::fs::read(&c).ok()?;
        let dobj = object::File::parse(&*data).ok()?;
        if let Err(why) = same_build(obj, &dobj) {
            ignored.push(format!(
                "debug file {} ignored: {why}, another build",
                c.display()
            ));
            return None;
        }
        drop(dobj);
        Some(data)
    })
}

/// Whether a separate debug file belongs to the binary `obj`: the same build ID when the
/// binary has one (a debug file without one cannot be checked, so it is refused too); for
/// a binary without a build ID, the same `.text` address and size (`objcopy
/// --only-keep-debug` keeps the section headers; a rebuild almost always moves or resizes
/// `.text`). `Err` says how they differ.
fn same_build(obj: &object::File<'_>, dobj: &object::File<'_>) -> Result<(), String> {
    let id = obj.build_id().ok().flatten().map(hex);
    let did = dobj.build_id().ok().flatten().map(hex);
    match (id, did) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (Some(a), Some(b)) => Err(format!("its build ID is {b}, the binary's is {a}")),
        (Some(a), None) => Err(format!("it has no build ID, the binary's is {a}")),
        (None, _) => {
            let text =
                |o: &object::File<'_>| o.section_by_name(".text").map(|s| (s.address(), s.size()));
            match (text(obj), text(dobj)) {
                (Some(a), Some(b)) if a != b => Err(format!(
                    "its .text is {:#x}+{:#x}, the binary's {:#x}+{:#x}",
                    b.0, b.1, a.0, a.1
                )),
                _ => Ok(()),
            }
        }
    }
}

fn text_symbols(obj: &object::File<'_>) -> Vec<Sym> {
    let collect = |it: object::SymbolIterator<'_, '_>| -> Vec<Sym> {
        it.filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                Some(Sym {
                    addr: s.address(),
                    size: s.size(),
                    name: s.name().ok()?.to_string(),
                })
            })
            .collect()
    };
    let mut syms = collect(obj.symbols());
    if syms.is_empty() {
        syms = collect(obj.dynamic_symbols());
    }
    syms.sort_by_key(|s| (s.addr, std::cmp::Reverse(s.size)));
    syms.dedup_by_key(|s| s.addr);
    syms
}

fn load_dwarf(obj: &object::File<'_>) -> Option<addr2line::Context<Reader>> {
    let endian = if obj.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        let data: Cow<'_, [u8]> = obj
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[]));
        Ok(gimli::EndianRcSlice::new(Rc::from(&*data), endian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

/// Crate and module names of source files, cached.
#[derive(Default)]
struct CrateNames {
    /// File → (crate root directory, crate name if known, module path inside the crate).
    files: HashMap<String, Option<(String, Option<String>, String)>>,
}

impl CrateNames {
    /// `short` qualified as `crate::module::short`: with the caller's crate when the file
    /// is in the same crate as the caller's, else with the crate the file belongs to; `short`
    /// unchanged when neither is known.
    fn qualify(
        &mut self,
        short: &str,
        file: Option<&str>,
        caller: &str,
        caller_file: Option<&str>,
    ) -> String {
        let Some(file) = file else {
            return short.to_string();
        };
        let Some((root, krate, module)) = self.lookup(file) else {
            return short.to_string();
        };
        // Same file as the caller: the caller's module path (its leading lowercase
        // segments: by Rust naming conventions the first capitalised one is a type).
        if caller_file == Some(file) {
            let modules: Vec<&str> = caller
                .split("::")
                .take_while(|seg| {
                    seg.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                        && !seg.contains(['<', '>', ' ', '{'])
                })
                .collect();
            // All lowercase: the last segment is the caller function itself.
            let n = if modules.len() == caller.split("::").count() {
                modules.len().saturating_sub(1)
            } else {
                modules.len()
            };
            if n > 0 {
                return format!("{}::{short}", modules[..n].join("::"));
            }
        }
        let caller_root = caller_file.and_then(|f| self.lookup(f)).map(|(r, _, _)| r);
        let krate = if caller_root.as_deref() == Some(root.as_str()) {
            let c = caller.trim_start_matches('<');
            let first = c.split("::").next().unwrap_or(c);
            Some(first.to_string()).filter(|f| !f.is_empty() && !f.contains(['<', ' ', '{']))
        } else {
            krate
        };
        match krate {
            Some(k) if module.is_empty() => format!("{k}::{short}"),
            Some(k) => format!("{k}::{module}::{short}"),
            None => short.to_string(),
        }
    }

    fn lookup(&mut self, file: &str) -> Option<(String, Option<String>, String)> {
        if let Some(v) = self.files.get(file) {
            return v.clone();
        }
        let v = crate_of_file(file);
        self.files.insert(file.to_string(), v.clone());
        v
    }
}

/// (crate root, crate name, module path) of a source file: the standard library
/// (`/rustc/<hash>/library/<crate>/src/…`), a registry crate (`…/registry/src/<index>/<crate>-<version>/src/…`),
/// or a local package (the nearest `Cargo.toml` above the file, when it is on this machine;
/// else the directory holding `src/`).
fn crate_of_file(file: &str) -> Option<(String, Option<String>, String)> {
    let i = file.rfind("/src/")?;
    let root = &file[..i];
    let rel = &file[i + 5..];
    let module = module_path(rel);
    let dir_name = root.rsplit('/').next().unwrap_or(root);
    let krate = if file.starts_with("/rustc/") || root.contains("/lib/rustlib/src/") {
        Some(dir_name.to_string())
    } else if root.contains("/registry/src/") || root.contains("/git/checkouts/") {
        Some(strip_version(dir_name).replace('-', "_"))
    } else {
        package_name(Path::new(root)).or_else(|| Some(dir_name.replace('-', "_")))
    };
    Some((root.to_string(), krate, module))
}

/// `serde-1.0.219` → `serde`.
fn strip_version(dir: &str) -> &str {
    match dir.rfind('-') {
        Some(i) if dir[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => &dir[..i],
        _ => dir,
    }
}

/// The `[package] name` of `dir/Cargo.toml`, with `-` as `_`.
fn package_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().strip_prefix('=')?.trim().trim_matches('"');
                return Some(v.replace('-', "_"));
            }
        }
    }
    None
}

/// `version/parse.rs` → `version::parse`; `lib.rs`, `main.rs` → ``; `a/mod.rs` → `a`.
fn module_path(rel: &str) -> String {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    if matches!(parts.last(), Some(&"mod")) {
        parts.pop();
    }
    if parts.len() == 1 && matches!(parts[0], "lib" | "main") {
        parts.clear();
    }
    if parts.first() == Some(&"bin") {
        parts.clear();
    }
    parts.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_note_is_found() {
        // namesz 4, descsz 3, type 1 (not a build ID), then the build ID note.
        let mut notes = Vec::new();
        for (kind, desc) in [(1u32, &[9u8, 9, 9][..]), (3, &[0xab, 0xcd, 0x01][..])] {
            notes.extend_from_slice(&4u32.to_ne_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
            notes.extend_from_slice(&kind.to_ne_bytes());
            notes.extend_from_slice(b"GNU\0");
            notes.extend_from_slice(desc);
            notes.push(0);
        }
        assert_eq!(gnu_build_id(&notes).map(hex).as_deref(), Some("abcd01"));
        assert_eq!(gnu_build_id(&notes[..20]), None);
    }

    #[test]
    fn this_process_has_mappings_with_build_ids() {
        let m = mappings();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(m[0].path, exe.display().to_string());
        let here = this_process_has_mappings_with_build_ids as *const () as usize as u64;
        assert!(m[0]
            .segments
            .iter()
            .any(|s| s.start <= here && here < s.end));
        // The recorded ID is the one in the file.
        let data = std::fs::read(&exe).unwrap();
        let file_id = object::File::parse(&*data)
            .unwrap()
            .build_id()
            .unwrap()
            .map(hex);
        assert_eq!(m[0].build_id, file_id);
    }

    #[test]
    fn crates_and_modules_of_files() {
        let (_, k, m) = crate_of_file(
            "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pep440_rs-0.7.3/src/version.rs",
        )
        .unwrap();
        assert_eq!((k.as_deref(), m.as_str()), (Some("pep440_rs"), "version"));
        let (_, k, m) = crate_of_file("/rustc/59807616e/library/alloc/src/vec/mod.rs").unwrap();
        assert_eq!((k.as_deref(), m.as_str()), (Some("alloc"), "vec"));
        let (_, k, m) =
            crate_of_file(concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/names.rs")).unwrap();
        assert_eq!(
            (k.as_deref(), m.as_str()),
            (Some("allocscope"), "report::names")
        );
        assert!(is_short("new<&[u64], &u64>"));
        assert!(is_short("{closure#0}"));
        assert!(!is_short("a::b"));
        assert!(!is_short("<a::B as c::D>::e"));
        let mut c = CrateNames::default();
        let q = c.qualify(
            "from_str",
            Some("/r/registry/src/i/pep440_rs-0.7.3/src/version.rs"),
            "pep440_rs::version::Version::parse",
            Some("/r/registry/src/i/pep440_rs-0.7.3/src/version.rs"),
        );
        assert_eq!(q, "pep440_rs::version::from_str");
        // Same crate, other file: the caller's crate and the file's module.
        let q = c.qualify(
            "helper",
            Some("/nowhere/app/src/util/text.rs"),
            "app::Table::push",
            Some("/nowhere/app/src/table.rs"),
        );
        assert_eq!(q, "app::util::text::helper");
        // Same file, inline module: the caller's module path.
        let q = c.qualify(
            "make_label",
            Some("/nowhere/dep/src/lib.rs"),
            "dep::version::Version::parse",
            Some("/nowhere/dep/src/lib.rs"),
        );
        assert_eq!(q, "dep::version::make_label");
    }
}
