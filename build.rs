//! Embeds every `presets/*.toml` into the binary so a fresh machine has the built-in library.
// cargo reads a build script's stdout
#![allow(clippy::print_stdout, clippy::print_stderr)]
use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new("presets");
    println!("cargo:rerun-if-changed=presets");
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|it| it.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    let mut out = String::from(
        "/// Built-in presets: (file name, TOML text).\npub const BUILTIN_PRESETS: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        println!("cargo:rerun-if-changed={}", path.display());
        // Relative to the manifest dir at compile time, not an absolute path frozen into OUT_DIR:
        // a target dir shared by two checkouts must never embed the other checkout's presets.
        let relative = format!("/presets/{name}");
        out.push_str(&format!(
            "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {relative:?}))),\n"
        ));
    }
    out.push_str("];\n");
    let dest =
        Path::new(&env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("builtin_presets.rs");
    if let Err(err) = fs::write(&dest, out) {
        panic!("cannot write {}: {err}", dest.display());
    }
}
