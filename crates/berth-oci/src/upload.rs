//! Upload session identifiers, the `<reference>` of `/blobs/uploads/<reference>`.

use std::fmt;
use std::str::FromStr;

/// A random upload session id (a UUID), safe to use as a file or object name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(String);

impl UploadId {
    pub fn new_random(uuid: impl fmt::Display) -> UploadId {
        UploadId(uuid.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Any string that is not a canonical lowercase hyphenated UUID names no upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upload id")]
pub struct InvalidUploadId;

impl FromStr for UploadId {
    type Err = InvalidUploadId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let well_formed = bytes.len() == 36
            && bytes.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        if well_formed {
            Ok(UploadId(s.to_owned()))
        } else {
            Err(InvalidUploadId)
        }
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_uuids_are_upload_ids() {
        assert!("0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978"
            .parse::<UploadId>()
            .is_ok());
        for bad in [
            "",
            "../../etc",
            "0B1E5CFA-3F6B-4A3C-9F0E-2D3C4B5A6978",
            "0b1e5cfa3f6b4a3c9f0e2d3c4b5a6978",
        ] {
            assert!(bad.parse::<UploadId>().is_err(), "{bad}");
        }
    }
}
