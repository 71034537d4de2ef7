//! What an executable file is, as its ELF headers say: whether it is static (it has no
//! `PT_INTERP`, so the kernel jumps straight to its entry point without starting a dynamic
//! loader) and which CPU it is built for, named the way OCI image configs and Go name it (`amd64`,
//! `arm64`, `arm` with variant `v7`, ...).
//!
//! Two users need this. `sandbox` runs `pause` as every pod's PID 1, which must not depend on the
//! host's libc staying put. The `images` builder packages `pause` into an image that has no
//! loader, and writes the binary's platform into the image config.
//!
//! Only what the kernel's ELF loader (`fs/binfmt_elf.c`) reads decides the answer: the file
//! header (class, byte order, `e_type`, `e_machine`, `e_flags`) and the program headers. Section
//! headers are read for 32-bit ARM only, because its architecture version (the OCI variant) is
//! recorded nowhere else than in the `.ARM.attributes` section. The `object` crate does the
//! parsing and bounds checking. This module only turns its answers into names.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};

/// A CPU architecture, as OCI image configs name it in `architecture` (Go's `GOARCH`). These
/// are the Linux architectures that Go supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Architecture {
    /// x86-64, 64-bit (`amd64`).
    Amd64,
    /// x86, 32-bit (`386`).
    I386,
    /// ARM, 32-bit little-endian (`arm`). Its variant tells the architecture version.
    Arm,
    /// AArch64, little-endian (`arm64`).
    Arm64,
    /// LoongArch, 64-bit (`loong64`).
    Loong64,
    /// MIPS, 32-bit big-endian (`mips`).
    Mips,
    /// MIPS, 32-bit little-endian (`mipsle`).
    Mipsle,
    /// MIPS, 64-bit big-endian (`mips64`).
    Mips64,
    /// MIPS, 64-bit little-endian (`mips64le`).
    Mips64le,
    /// POWER, 64-bit big-endian (`ppc64`).
    Ppc64,
    /// POWER, 64-bit little-endian (`ppc64le`).
    Ppc64le,
    /// RISC-V, 64-bit (`riscv64`).
    Riscv64,
    /// IBM Z, 64-bit (`s390x`).
    S390x,
}

impl Architecture {
    /// The name in OCI image configs and in Go's `GOARCH` (`amd64`, `arm64`, `386`, ...).
    pub fn oci_name(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::I386 => "386",
            Architecture::Arm => "arm",
            Architecture::Arm64 => "arm64",
            Architecture::Loong64 => "loong64",
            Architecture::Mips => "mips",
            Architecture::Mipsle => "mipsle",
            Architecture::Mips64 => "mips64",
            Architecture::Mips64le => "mips64le",
            Architecture::Ppc64 => "ppc64",
            Architecture::Ppc64le => "ppc64le",
            Architecture::Riscv64 => "riscv64",
            Architecture::S390x => "s390x",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oci_name())
    }
}

/// What an ELF executable needs in order to run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Executable {
    /// The CPU it is built for.
    pub architecture: Architecture,
    /// The OCI variant of the architecture, when the file records one that matters: `v5`, `v6`,
    /// `v7` or `v8` for 32-bit ARM (from `Tag_CPU_arch`). `None` for all other architectures:
    /// containerd treats `arm64` and `arm64/v8` as the same platform.
    pub variant: Option<&'static str>,
    /// The dynamic loader named by `PT_INTERP` (`/lib64/ld-linux-x86-64.so.2`), or `None` for a
    /// static executable.
    pub interpreter: Option<PathBuf>,
}

impl Executable {
    /// Whether it runs without a dynamic loader. A static-pie executable counts as static.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none()
    }
}

/// Why some bytes are not an ELF executable that this module can describe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The bytes do not start with the ELF magic number (a script, for example).
    #[error("not an ELF file (no \\x7fELF magic)")]
    NotElf,
    /// The ELF headers are cut short or inconsistent.
    #[error("truncated or malformed ELF file ({len} bytes)")]
    Malformed {
        /// The size of the file.
        len: usize,
        /// What `object` found wrong.
        #[source]
        source: object::read::Error,
    },
    /// The file is a relocatable object or a core dump: nothing the kernel would execute.
    #[error("not an executable but {kind} (ELF type {file_type})")]
    NotExecutable {
        /// `e_type`.
        file_type: u16,
        /// What that type is, in words.
        kind: &'static str,
    },
    /// There are no program headers, so the kernel has nothing to map.
    #[error("no program headers, so there is nothing to load")]
    NoProgramHeaders,
    /// The machine, class and byte order do not name an architecture listed in [`Architecture`].
    #[error(
        "built for ELF machine {machine} ({bits}-bit {byte_order}), which has no OCI architecture name here"
    )]
    UnknownArchitecture {
        /// `e_machine`.
        machine: u16,
        /// 32 or 64, from the ELF class.
        bits: u8,
        /// "little-endian" or "big-endian".
        byte_order: &'static str,
    },
}

/// Why the file at a path could not be described.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("reading executable {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file was read, but it is not an ELF executable this module can describe.
    #[error("inspecting executable {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: ParseError,
    },
}

/// Describes the ELF executable in `bytes`: its architecture and whether it is static.
pub fn inspect(bytes: &[u8]) -> Result<Executable, ParseError> {
    if !bytes.starts_with(&elf::ELFMAG) {
        return Err(ParseError::NotElf);
    }
    match FileKind::parse(bytes).map_err(malformed(bytes))? {
        FileKind::Elf32 => inspect_elf::<elf::FileHeader32<Endianness>>(bytes),
        FileKind::Elf64 => inspect_elf::<elf::FileHeader64<Endianness>>(bytes),
        // The magic is ELF's, so `object` answers with one of the two ELF classes or fails.
        _ => Err(ParseError::NotElf),
    }
}

/// Reads the file at `path` and describes it as [`inspect`] does.
pub fn inspect_file(path: &Path) -> Result<Executable, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    inspect(&bytes).map_err(|source| Error::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Turns an `object` error on `bytes` into [`ParseError::Malformed`].
fn malformed(bytes: &[u8]) -> impl Fn(object::read::Error) -> ParseError {
    let len = bytes.len();
    move |source| ParseError::Malformed { len, source }
}

fn inspect_elf<Elf: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
) -> Result<Executable, ParseError> {
    let header = Elf::parse(bytes).map_err(malformed(bytes))?;
    let endian = header.endian().map_err(malformed(bytes))?;

    let file_type = header.e_type(endian);
    // ET_DYN is a position-independent executable (static-pie included) as well as a library.
    if file_type != elf::ET_EXEC && file_type != elf::ET_DYN {
        let kind = match file_type {
            elf::ET_REL => "a relocatable object file",
            elf::ET_CORE => "a core dump",
            _ => "a file of another type",
        };
        return Err(ParseError::NotExecutable {
            file_type: file_type.0,
            kind,
        });
    }

    let program_headers = header
        .program_headers(endian, bytes)
        .map_err(malformed(bytes))?;
    if program_headers.is_empty() {
        return Err(ParseError::NoProgramHeaders);
    }
    // The kernel starts the first PT_INTERP it finds.
    let mut interpreter = None;
    for program_header in program_headers {
        if let Some(path) = program_header
            .interpreter(endian, bytes)
            .map_err(malformed(bytes))?
        {
            interpreter = Some(PathBuf::from(OsStr::from_bytes(path)));
            break;
        }
    }

    let architecture = architecture(header, endian)?;
    let variant = match architecture {
        Architecture::Arm => arm_variant(header, endian, bytes).map_err(malformed(bytes))?,
        _ => None,
    };
    Ok(Executable {
        architecture,
        variant,
        interpreter,
    })
}

/// The architecture named by `e_machine`, the class and the byte order, as Go pairs them.
fn architecture<Elf: FileHeader>(
    header: &Elf,
    endian: Elf::Endian,
) -> Result<Architecture, ParseError> {
    let machine = header.e_machine(endian);
    let is_64 = header.is_class_64();
    let is_little = header.is_little_endian();
    // MIPS n32: a 64-bit ISA in a 32-bit ELF (Go's `mips64p32`), not plain 32-bit MIPS.
    let is_mips_n32 = header.e_flags(endian).contains(elf::EF_MIPS_ABI2);
    let architecture = match (machine, is_64, is_little) {
        (elf::EM_X86_64, true, true) => Architecture::Amd64,
        (elf::EM_386, false, true) => Architecture::I386,
        (elf::EM_ARM, false, true) => Architecture::Arm,
        (elf::EM_AARCH64, true, true) => Architecture::Arm64,
        (elf::EM_LOONGARCH, true, true) => Architecture::Loong64,
        (elf::EM_MIPS, false, false) if !is_mips_n32 => Architecture::Mips,
        (elf::EM_MIPS, false, true) if !is_mips_n32 => Architecture::Mipsle,
        (elf::EM_MIPS, true, false) => Architecture::Mips64,
        (elf::EM_MIPS, true, true) => Architecture::Mips64le,
        (elf::EM_PPC64, true, false) => Architecture::Ppc64,
        (elf::EM_PPC64, true, true) => Architecture::Ppc64le,
        (elf::EM_RISCV, true, true) => Architecture::Riscv64,
        (elf::EM_S390, true, false) => Architecture::S390x,
        _ => {
            return Err(ParseError::UnknownArchitecture {
                machine: machine.0,
                bits: if is_64 { 64 } else { 32 },
                byte_order: if is_little {
                    "little-endian"
                } else {
                    "big-endian"
                },
            });
        }
    };
    Ok(architecture)
}

/// `Tag_CPU_arch`: the ARM architecture version the file is built for ("Addenda to, and Errata
/// in, the ABI for the Arm Architecture", IHI 0045, section "Public aeabi attribute tags").
const TAG_CPU_ARCH: u64 = 6;
/// `Tag_compatibility`: an integer followed by a string.
const TAG_COMPATIBILITY: u64 = 32;
/// `Tag_CPU_raw_name` and `Tag_CPU_name`: strings.
const TAG_CPU_NAMES: [u64; 2] = [4, 5];

/// The OCI variant of a 32-bit ARM executable: `Tag_CPU_arch` of the file-wide `aeabi`
/// attributes in `.ARM.attributes`, or `None` when the file records none.
fn arm_variant<Elf: FileHeader>(
    header: &Elf,
    endian: Elf::Endian,
    bytes: &[u8],
) -> object::read::Result<Option<&'static str>> {
    for section in header.section_headers(endian, bytes)? {
        if section.sh_type(endian) != elf::SHT_ARM_ATTRIBUTES {
            continue;
        }
        let attributes = section.attributes(endian, bytes)?;
        let mut subsections = attributes.subsections()?;
        while let Some(subsection) = subsections.next()? {
            if subsection.vendor() != b"aeabi" {
                continue;
            }
            let mut subsubsections = subsection.subsubsections();
            while let Some(subsubsection) = subsubsections.next()? {
                if subsubsection.tag() != elf::Tag_File {
                    continue;
                }
                // Values carry no length, so every tag before Tag_CPU_arch must be read by its
                // type: tags up to 32 as the ABI lists them, then odd tags are strings.
                let mut reader = subsubsection.attributes();
                while let Some(tag) = reader.read_tag()? {
                    match tag {
                        TAG_CPU_ARCH => return Ok(arm_version(reader.read_integer()?)),
                        TAG_COMPATIBILITY => {
                            reader.read_integer()?;
                            reader.read_string()?;
                        }
                        tag if TAG_CPU_NAMES.contains(&tag) || (tag > 32 && tag % 2 == 1) => {
                            reader.read_string()?;
                        }
                        _ => {
                            reader.read_integer()?;
                        }
                    }
                }
            }
        }
    }
    Ok(None)
}

/// The OCI variant of a `Tag_CPU_arch` value. Versions before ARMv5 have none: Go and the OCI
/// platform list start at v5.
fn arm_version(cpu_arch: u64) -> Option<&'static str> {
    match cpu_arch {
        // v5T, v5TE, v5TEJ
        3..=5 => Some("v5"),
        // v6, v6KZ, v6T2, v6K, v6-M, v6S-M
        6..=9 | 11 | 12 => Some("v6"),
        // v7, v7E-M
        10 | 13 => Some("v7"),
        // v8-A, v8-R, v8-M, v8.1-A and later, v9-A: AArch32 on an ARMv8 or later core
        14..=22 => Some("v8"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF file of one class and byte order, built field by field: a file header, one
    /// program header per entry of `segments` (a `PT_INTERP` gets its path stored after the
    /// headers), and, when `arm_attributes` is given, a section table whose one section is an
    /// `SHT_ARM_ATTRIBUTES` holding those bytes.
    struct Fixture {
        is_64: bool,
        big_endian: bool,
        file_type: u16,
        machine: u16,
        flags: u32,
        segments: Vec<u32>,
        interpreter: &'static str,
        arm_attributes: Option<Vec<u8>>,
    }

    const PT_LOAD: u32 = 1;
    const PT_INTERP: u32 = 3;

    impl Fixture {
        fn new(is_64: bool, big_endian: bool, machine: u16) -> Fixture {
            Fixture {
                is_64,
                big_endian,
                file_type: elf::ET_EXEC.0,
                machine,
                flags: 0,
                segments: vec![PT_LOAD],
                interpreter: "/lib/ld-musl.so.1",
                arm_attributes: None,
            }
        }

        fn amd64() -> Fixture {
            Fixture::new(true, false, elf::EM_X86_64.0)
        }

        fn bytes(&self) -> Vec<u8> {
            let (header_size, segment_size, section_size) = if self.is_64 {
                (64, 56, 64)
            } else {
                (52, 32, 40)
            };
            let segments_at = header_size;
            let data_at = segments_at + segment_size * self.segments.len();
            let interpreter = format!("{}\0", self.interpreter).into_bytes();
            let attributes = self.arm_attributes.clone().unwrap_or_default();
            let attributes_at = data_at + interpreter.len();
            let sections_at = attributes_at + attributes.len();

            let mut out = Writer {
                bytes: Vec::new(),
                is_64: self.is_64,
                big_endian: self.big_endian,
            };
            out.bytes.extend(elf::ELFMAG);
            out.bytes.push(if self.is_64 { 2 } else { 1 });
            out.bytes.push(if self.big_endian { 2 } else { 1 });
            out.bytes.push(1); // EV_CURRENT
            out.bytes.resize(16, 0);
            out.u16(self.file_type);
            out.u16(self.machine);
            out.u32(1); // e_version
            out.word(0); // e_entry
            out.word(segments_at as u64); // e_phoff
            out.word(if self.arm_attributes.is_some() {
                sections_at as u64
            } else {
                0
            }); // e_shoff
            out.u32(self.flags);
            out.u16(header_size as u16);
            out.u16(segment_size as u16);
            out.u16(self.segments.len() as u16);
            out.u16(section_size as u16);
            out.u16(if self.arm_attributes.is_some() { 2 } else { 0 }); // e_shnum
            out.u16(0); // e_shstrndx
            assert_eq!(out.bytes.len(), header_size);

            for &p_type in &self.segments {
                let (offset, size) = if p_type == PT_INTERP {
                    (data_at as u64, interpreter.len() as u64)
                } else {
                    (0, 0)
                };
                out.u32(p_type);
                if self.is_64 {
                    out.u32(4); // p_flags
                }
                out.word(offset); // p_offset
                out.word(0); // p_vaddr
                out.word(0); // p_paddr
                out.word(size); // p_filesz
                out.word(size); // p_memsz
                if !self.is_64 {
                    out.u32(4); // p_flags
                }
                out.word(1); // p_align
            }
            out.bytes.extend(&interpreter);
            out.bytes.extend(&attributes);
            if self.arm_attributes.is_some() {
                // Section 0 is the null section; section 1 holds the attributes.
                out.bytes.extend(vec![0; section_size]);
                out.u32(0); // sh_name
                out.u32(elf::SHT_ARM_ATTRIBUTES.0);
                out.word(0); // sh_flags
                out.word(0); // sh_addr
                out.word(attributes_at as u64); // sh_offset
                out.word(attributes.len() as u64); // sh_size
                out.u32(0); // sh_link
                out.u32(0); // sh_info
                out.word(1); // sh_addralign
                out.word(0); // sh_entsize
            }
            out.bytes
        }
    }

    struct Writer {
        bytes: Vec<u8>,
        is_64: bool,
        big_endian: bool,
    }

    impl Writer {
        fn u16(&mut self, value: u16) {
            let bytes = if self.big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            self.bytes.extend(bytes);
        }

        fn u32(&mut self, value: u32) {
            let bytes = if self.big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            self.bytes.extend(bytes);
        }

        /// An address or offset: 8 bytes in ELF-64, 4 in ELF-32.
        fn word(&mut self, value: u64) {
            if self.is_64 {
                let bytes = if self.big_endian {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                self.bytes.extend(bytes);
            } else {
                self.u32(u32::try_from(value).unwrap());
            }
        }
    }

    /// A little-endian `.ARM.attributes` section whose `aeabi` file attributes are `attributes`.
    fn arm_attributes(attributes: &[u8]) -> Vec<u8> {
        let mut file = vec![1]; // Tag_File
        file.extend((5 + attributes.len() as u32).to_le_bytes());
        file.extend(attributes);
        let mut subsection = Vec::new();
        subsection.extend((4 + 6 + file.len() as u32).to_le_bytes());
        subsection.extend(b"aeabi\0");
        subsection.extend(file);
        let mut section = vec![b'A'];
        section.extend(subsection);
        section
    }

    #[test]
    fn this_test_executable_is_static_amd64() {
        // The workspace builds for x86_64-unknown-linux-musl, so every executable it links is
        // static, this one included.
        let exe = std::env::current_exe().unwrap();
        let executable = inspect_file(&exe).unwrap();
        assert_eq!(executable.architecture, Architecture::Amd64);
        assert_eq!(executable.architecture.to_string(), "amd64");
        assert_eq!(executable.variant, None);
        assert!(executable.is_static(), "{executable:?}");
    }

    #[test]
    fn the_hosts_shell_is_dynamic() {
        let executable = inspect_file(Path::new("/bin/sh")).unwrap();
        assert!(!executable.is_static());
        assert_eq!(executable.architecture, Architecture::Amd64);
        // /lib64/ld-linux-x86-64.so.2 on Debian, /lib/ld-musl-x86_64.so.1 on Alpine
        let interpreter = executable.interpreter.unwrap();
        assert!(
            interpreter.to_string_lossy().starts_with("/lib"),
            "{}",
            interpreter.display()
        );
    }

    #[test]
    fn a_script_is_not_elf() {
        assert!(matches!(
            inspect(b"#!/bin/sh\nexit 0\n"),
            Err(ParseError::NotElf)
        ));
        assert!(matches!(inspect(b""), Err(ParseError::NotElf)));
        let script = std::env::temp_dir().join(format!("binary-script-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let error = inspect_file(&script).unwrap_err();
        std::fs::remove_file(&script).unwrap();
        assert!(
            matches!(&error, Error::Parse { path, source: ParseError::NotElf } if *path == script),
            "{error:?}"
        );
        assert_eq!(
            crate::error_chain(&error),
            format!(
                "inspecting executable {}: not an ELF file (no \\x7fELF magic)",
                script.display()
            )
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = inspect_file(Path::new("/nonexistent/pause")).unwrap_err();
        assert!(matches!(error, Error::Read { .. }), "{error:?}");
        assert!(
            crate::error_chain(&error)
                .starts_with("reading executable /nonexistent/pause: No such file"),
            "{error}"
        );
    }

    #[test]
    fn truncated_files_are_malformed() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // Cut inside the ELF identification, inside the file header, and inside the program
        // headers (which start right after the 64-byte header).
        for len in [6, 40, 100] {
            let error = inspect(&exe[..len]).unwrap_err();
            assert!(
                matches!(error, ParseError::Malformed { len: l, .. } if l == len),
                "{len} bytes: {error:?}"
            );
            assert!(
                error.to_string().starts_with("truncated or malformed ELF"),
                "{error}"
            );
        }
        // A PT_INTERP whose path lies beyond the end of the file.
        let mut fixture = Fixture::amd64();
        fixture.segments = vec![PT_INTERP];
        let bytes = fixture.bytes();
        let error = inspect(&bytes[..bytes.len() - 4]).unwrap_err();
        assert!(matches!(error, ParseError::Malformed { .. }), "{error:?}");
    }

    #[test]
    fn static_and_dynamic_fixtures() {
        let static_exec = inspect(&Fixture::amd64().bytes()).unwrap();
        assert!(static_exec.is_static());

        let mut static_pie = Fixture::amd64();
        static_pie.file_type = elf::ET_DYN.0;
        assert!(inspect(&static_pie.bytes()).unwrap().is_static());

        let mut dynamic = Fixture::amd64();
        dynamic.segments = vec![6, PT_INTERP, PT_LOAD]; // PT_PHDR first, as linkers write it
        let executable = inspect(&dynamic.bytes()).unwrap();
        assert_eq!(
            executable.interpreter.as_deref(),
            Some(Path::new("/lib/ld-musl.so.1"))
        );
    }

    #[test]
    fn what_is_not_an_executable_is_refused() {
        let mut object_file = Fixture::amd64();
        object_file.file_type = elf::ET_REL.0;
        let error = inspect(&object_file.bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not an executable but a relocatable object file (ELF type 1)"
        );

        let mut no_segments = Fixture::amd64();
        no_segments.segments.clear();
        assert!(matches!(
            inspect(&no_segments.bytes()),
            Err(ParseError::NoProgramHeaders)
        ));
    }

    #[test]
    fn architectures_get_their_oci_names() {
        let cases = [
            (true, false, elf::EM_X86_64, "amd64"),
            (false, false, elf::EM_386, "386"),
            (true, false, elf::EM_AARCH64, "arm64"),
            (false, false, elf::EM_ARM, "arm"),
            (true, false, elf::EM_PPC64, "ppc64le"),
            (true, true, elf::EM_PPC64, "ppc64"),
            (true, true, elf::EM_S390, "s390x"),
            (true, false, elf::EM_RISCV, "riscv64"),
            (true, false, elf::EM_LOONGARCH, "loong64"),
            (false, true, elf::EM_MIPS, "mips"),
            (false, false, elf::EM_MIPS, "mipsle"),
            (true, true, elf::EM_MIPS, "mips64"),
            (true, false, elf::EM_MIPS, "mips64le"),
        ];
        for (is_64, big_endian, machine, name) in cases {
            let bytes = Fixture::new(is_64, big_endian, machine.0).bytes();
            let executable = inspect(&bytes).unwrap();
            assert_eq!(executable.architecture.oci_name(), name);
            assert_eq!(executable.variant, None, "{name}");
        }
    }

    #[test]
    fn unknown_architectures_are_refused_with_their_machine() {
        let x32 = Fixture::new(false, false, elf::EM_X86_64.0); // x86-64 code in a 32-bit ELF
        let sparc64 = Fixture::new(true, true, elf::EM_SPARCV9.0);
        let riscv32 = Fixture::new(false, false, elf::EM_RISCV.0);
        for (fixture, expected) in [
            (x32, "machine 62 (32-bit little-endian)"),
            (sparc64, "machine 43 (64-bit big-endian)"),
            (riscv32, "machine 243 (32-bit little-endian)"),
        ] {
            let error = inspect(&fixture.bytes()).unwrap_err();
            assert!(
                matches!(error, ParseError::UnknownArchitecture { .. }),
                "{error:?}"
            );
            assert!(error.to_string().contains(expected), "{error}");
        }
        let mut mips_n32 = Fixture::new(false, true, elf::EM_MIPS.0);
        mips_n32.flags = elf::EF_MIPS_ABI2.0;
        assert!(inspect(&mips_n32.bytes()).is_err());
    }

    #[test]
    fn arm_variant_comes_from_tag_cpu_arch() {
        let v7 = {
            // Tag_CPU_name "7-A", Tag_CPU_arch v7, Tag_CPU_arch_profile 'A'
            let mut attributes = vec![5];
            attributes.extend(b"7-A\0");
            attributes.extend([6, 10, 7, b'A']);
            attributes
        };
        for (attributes, expected) in [
            (v7, Some("v7")),
            (vec![6, 6], Some("v6")),
            (vec![6, 4], Some("v5")),
            (vec![6, 14], Some("v8")),
            (vec![6, 1], None),
            // Tag_ARM_ISA_use, Tag_compatibility (flag, vendor), then Tag_CPU_arch v6K
            (vec![8, 1, 32, 0, b'x', 0, 6, 9], Some("v6")),
            // Only Tag_ARM_ISA_use: no architecture recorded
            (vec![8, 1], None),
        ] {
            let mut fixture = Fixture::new(false, false, elf::EM_ARM.0);
            fixture.arm_attributes = Some(arm_attributes(&attributes));
            let executable = inspect(&fixture.bytes()).unwrap();
            assert_eq!(executable.architecture, Architecture::Arm);
            assert_eq!(executable.variant, expected, "{attributes:?}");
        }
        // Without an .ARM.attributes section, the variant is unknown.
        let bare = inspect(&Fixture::new(false, false, elf::EM_ARM.0).bytes()).unwrap();
        assert_eq!(bare.variant, None);
    }
}
