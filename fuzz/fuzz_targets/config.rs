//! Config file text through `Settings::from_toml`, the parsing and merging `berth serve`
//! does. Nothing may panic, and accepted settings keep the limits it enforces.

#![no_main]

use berth::settings::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(settings) = Settings::from_toml(text) {
        assert!(settings.max_page_entries >= 1);
        assert!(settings.referrers_page_size >= 1);
        assert!(settings.max_manifest_bytes >= 1);
    }
});
