//! Link-time size tuning for the static pause. `-z noseparate-code` stops the linker from
//! padding the code into page-aligned segments of its own (one page saved per boundary), which
//! for a binary of a few KiB is most of its size on disk.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,noseparate-code");
}
