//! Link-time size tuning for the static pause. `-z noseparate-code` stops the linker from
//! padding the code into page-aligned segments of its own (one page saved per boundary), which
//! for a binary of a few KiB is most of its size on disk. `discard-unwind.ld` drops the unwind
//! tables: pause is built with `panic = "abort"` and never unwinds.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,noseparate-code");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("discard-unwind.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}
