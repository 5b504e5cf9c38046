//! Rebuilds the crate when a file of the web UI (`ui/`) is added, changed or removed: the
//! files are embedded at compile time, and cargo does not notice a new file by itself.

fn main() {
    println!("cargo:rerun-if-changed=ui");
}
