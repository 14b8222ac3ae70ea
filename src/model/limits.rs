//! Bounded reads of the files kalab reads whole (saved results, scenario files): a regular
//! file of at most a stated size, so `kalab compare /dev/zero` (or a FIFO, or a huge file) is
//! refused at once instead of filling memory.

use std::io::Read as _;
use std::path::Path;

use super::InputError;

/// Largest scenario file kalab reads (1 MiB).
pub const MAX_SCENARIO_FILE_BYTES: u64 = 1 << 20;

/// Largest saved result file `compare` and `check --baseline` read (256 MiB).
pub const MAX_RESULT_FILE_BYTES: u64 = 256 << 20;

/// Reads `path` whole: it must be a regular file of at most `max_bytes`.
pub fn read_regular(path: &Path, max_bytes: u64) -> Result<Vec<u8>, InputError> {
    let fail = |why: String| InputError::new(format!("{}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|err| fail(format!("cannot read it: {err}")))?;
    let meta = file
        .metadata()
        .map_err(|err| fail(format!("cannot read it: {err}")))?;
    if !meta.is_file() {
        return Err(fail(
            "not a regular file (a device, a FIFO or a directory); give a file kalab wrote".into(),
        ));
    }
    if meta.len() > max_bytes {
        return Err(fail(format!(
            "{} bytes, more than the {} MiB kalab reads",
            meta.len(),
            max_bytes >> 20
        )));
    }
    let mut bytes = Vec::new();
    // The file may grow while it is read: never read more than the limit.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| fail(format!("cannot read it: {err}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(fail(format!(
            "more than the {} MiB kalab reads",
            max_bytes >> 20
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_oversized_files_are_refused() {
        let err = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let path = std::env::temp_dir().join(format!("kalab-limits-{}", std::process::id()));
        std::fs::write(&path, [b'x'; 100]).unwrap();
        assert_eq!(read_regular(&path, 100).unwrap().len(), 100);
        let err = read_regular(&path, 99).unwrap_err();
        assert!(err.to_string().contains("100 bytes"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
