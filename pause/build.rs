//! Link-time size tuning for the static pause, on every architecture it is built for:
//!
//! - `-z noseparate-code` stops the linker from padding the code into page-aligned segments of
//!   its own (one page saved per boundary), which for a binary of a few KiB is most of its size
//!   on disk.
//! - On aarch64, `-z norelro` drops the `PT_GNU_RELRO` segment. Only a dynamic loader applies
//!   it (the kernel ignores it, and musl's static start-up never calls `mprotect` for it: the
//!   data of the x86_64 pause stays `rw-p` in `/proc/PID/maps` with it), so in a static musl
//!   binary it protects nothing. What it costs is padding: GNU ld ends it on a max-page-size
//!   boundary, which on aarch64 (whose kernels may use 64 KiB pages) put 41 KiB of zeros in a
//!   25 KiB file. Without it the data segment follows the code in the file and starts 64 KiB
//!   further in memory, so the binary still loads on 64 KiB-page kernels. On x86_64 (4 KiB
//!   pages) the padding is smaller than what `-z norelro` costs there (the static-pie data
//!   segment is then page-aligned in the file too: 27,032 B against 26,256 B).
//! - `discard-unwind.ld` drops the unwind tables: pause is built with `panic = "abort"` and
//!   never unwinds.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,noseparate-code");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("aarch64") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,norelro");
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("discard-unwind.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}
