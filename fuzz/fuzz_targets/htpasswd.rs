//! htpasswd file contents through `UserFile::parse`. Nothing may panic, and an accepted file
//! lists only users with bcrypt hashes.

#![no_main]

use std::path::Path;

use berth_auth::UserFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = UserFile::parse(Path::new("fuzz.htpasswd"), data) else {
        return;
    };
    assert!(file.len() <= data.split(|&b| b == b'\n').count());
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let Some((user, _)) = line.trim().split_once(':') else {
            continue;
        };
        if let Some(hash) = file.hash_of(user) {
            assert!(["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)));
        }
    }
});
