//! What a server leaves on disk and in its log: committed blob files that must hash to their
//! names, staged uploads that must not linger, and a log free of internal errors.

use std::path::{Path, PathBuf};

use sha2::Digest as _;

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Checks every committed blob file under `DIR/blobs/blobs`: it lies at `sha256/<xx>/<hex>`
/// with `xx` the first two hex digits, and its bytes hash to its name. Returns the digests.
pub fn assert_committed_blobs_valid(data_dir: &Path) -> Vec<String> {
    let root = data_dir.join("blobs").join("blobs");
    let mut digests = Vec::new();
    for path in files_under(&root) {
        let relative = path.strip_prefix(&root).expect("under root");
        let parts: Vec<&str> = relative
            .iter()
            .map(|p| p.to_str().expect("UTF-8 file name"))
            .collect();
        assert_eq!(
            parts.len(),
            3,
            "unexpected file in committed blobs: {}",
            path.display()
        );
        assert_eq!(
            parts[0],
            "sha256",
            "unexpected algorithm directory: {}",
            path.display()
        );
        let hex_name = parts[2];
        assert!(
            hex_name.len() == 64 && hex_name.bytes().all(|b| b.is_ascii_hexdigit()),
            "committed blob file with a non-digest name: {}",
            path.display()
        );
        assert_eq!(
            parts[1],
            &hex_name[..2],
            "blob in the wrong fan-out directory: {}",
            path.display()
        );
        let bytes = std::fs::read(&path).expect("read committed blob");
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        assert_eq!(
            actual,
            hex_name,
            "committed blob file {} does not hash to its name",
            path.display()
        );
        digests.push(format!("sha256:{hex_name}"));
    }
    digests
}

/// Names of the staged upload files in `DIR/blobs/uploads`.
pub fn staged_uploads(data_dir: &Path) -> Vec<String> {
    let dir = data_dir.join("blobs").join("uploads");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// No staged upload is left in `DIR/blobs/uploads`.
pub fn assert_no_staged_uploads(data_dir: &Path) {
    assert_eq!(
        staged_uploads(data_dir),
        Vec::<String>::new(),
        "staged uploads left behind"
    );
}

/// The server log shows no internal error and no panic.
pub fn assert_log_clean(log: &str) {
    for marker in ["internal error", "panicked"] {
        assert!(
            !log.contains(marker),
            "server log contains {marker:?}:\n{log}"
        );
    }
}
