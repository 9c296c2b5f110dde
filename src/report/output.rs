//! Where a report goes: a file (written atomically: temporary file, then rename) or stdout.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::profile::{write_atomically, ProfileError};
use crate::report::progress::Progress;

/// The destination of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Output {
    /// `-` means stdout, anything else a file.
    pub fn from_arg(arg: &Path) -> Output {
        if arg.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::File(arg.to_path_buf())
        }
    }

    /// Writes `bytes` there. A file is written whole or not at all: on error no file is
    /// left behind and an existing file is untouched.
    pub fn write(&self, bytes: &[u8]) -> Result<(), ProfileError> {
        match self {
            Output::File(path) => {
                let _progress = Progress::start(format!("writing {}", path.display()));
                write_atomically(path, bytes)
            }
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                match out.write_all(bytes).and_then(|()| out.flush()) {
                    // A reader that stopped early (`| head`) is not an error.
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(ProfileError::Io {
                        path: "<stdout>".to_string(),
                        source: e,
                    }),
                    _ => Ok(()),
                }
            }
        }
    }
}
