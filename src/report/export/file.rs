//! Writing one export file whole: beside itself then renamed over it, so a reader (or a
//! Ctrl-C) never sees half a file; a path that is not a regular file (`/dev/full`, a FIFO,
//! `/dev/stdout`) is written in place, since renaming over a device would replace it.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Whether `path` is an existing file that is not a regular one (a device, a FIFO).
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| !meta.is_file() && !meta.is_dir())
}

/// The file an export is written to before it is renamed over `path`.
pub fn partial_path(path: &Path) -> PathBuf {
    path.with_extension("partial")
}

/// Writes `bytes` to `path` whole: beside it then renamed over it, or in place for a device or
/// FIFO. A failure names the path and the reason (`No space left on device`).
pub fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if is_special(path) {
        return OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.flush()))
            .with_context(|| format!("cannot write {}", path.display()));
    }
    let partial = partial_path(path);
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_device_fails_with_its_reason() {
        let err = write_whole(Path::new("/dev/full"), b"{}").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cannot write /dev/full"), "{text}");
        assert!(text.contains("No space left"), "{text}");
    }

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let path = std::env::temp_dir().join(format!("kalab-whole-{}.json", std::process::id()));
        write_whole(&path, b"first").unwrap();
        write_whole(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(!partial_path(&path).exists());
        std::fs::remove_file(&path).unwrap();
    }
}
