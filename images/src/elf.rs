//! Is a file a static x86-64 Linux executable? An image has no libc and no dynamic loader, so
//! a binary that names an interpreter (`PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`) would
//! fail in the container with a baffling "no such file or directory". This reads just enough of
//! the ELF header and program headers (ELF-64, little-endian) to refuse it before packaging.

/// `e_machine` of x86-64 (`EM_X86_64`).
const EM_X86_64: u16 = 62;
/// `e_type` of a fixed-address executable (`ET_EXEC`).
const ET_EXEC: u16 = 2;
/// `e_type` of a position-independent executable, static-pie included (`ET_DYN`).
const ET_DYN: u16 = 3;
/// `p_type` of the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;

/// Checks that `bytes` are a little-endian ELF-64 x86-64 executable with no `PT_INTERP`;
/// the error says what is wrong.
pub(crate) fn check_static_x86_64(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not an ELF file (no \\x7fELF magic)".to_owned());
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err("not a little-endian 64-bit ELF file".to_owned());
    }
    let e_type = read_u16(bytes, 16)?;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(format!("not an executable (e_type {e_type})"));
    }
    let machine = read_u16(bytes, 18)?;
    if machine != EM_X86_64 {
        return Err(format!(
            "built for machine {machine}, not x86-64 ({EM_X86_64})"
        ));
    }
    let phoff = usize::try_from(read_u64(bytes, 32)?).map_err(|_| "e_phoff out of range")?;
    let phentsize = usize::from(read_u16(bytes, 54)?);
    let phnum = usize::from(read_u16(bytes, 56)?);
    if phnum == 0 {
        return Err("no program headers: not a loadable executable".to_owned());
    }
    for index in 0..phnum {
        let offset = index
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .ok_or("program header table out of range")?;
        if read_u32(bytes, offset)? == PT_INTERP {
            return Err(
                "dynamically linked: it has a PT_INTERP program header, and the image has no \
                 dynamic loader; build it for x86_64-unknown-linux-musl"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

fn field<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N], String> {
    offset
        .checked_add(N)
        .and_then(|end| bytes.get(offset..end))
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| format!("truncated ELF file ({} bytes)", bytes.len()))
}

fn read_u16(bytes: &[u8], offset: usize) -> Result<u16, String> {
    field(bytes, offset).map(u16::from_le_bytes)
}

fn read_u32(bytes: &[u8], offset: usize) -> Result<u32, String> {
    field(bytes, offset).map(u32::from_le_bytes)
}

fn read_u64(bytes: &[u8], offset: usize) -> Result<u64, String> {
    field(bytes, offset).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF-64 header followed by `types.len()` program headers of those `p_type`s.
    fn elf(e_type: u16, machine: u16, types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[16..18].copy_from_slice(&e_type.to_le_bytes());
        bytes[18..20].copy_from_slice(&machine.to_le_bytes());
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for p_type in types {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&p_type.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn accepts_static_and_static_pie_executables() {
        check_static_x86_64(&elf(ET_EXEC, EM_X86_64, &[1, 1])).unwrap();
        check_static_x86_64(&elf(ET_DYN, EM_X86_64, &[6, 1, 2])).unwrap();
    }

    #[test]
    fn refuses_what_cannot_run_in_an_empty_image() {
        let cases = [
            (elf(ET_DYN, EM_X86_64, &[6, PT_INTERP, 1]), "PT_INTERP"),
            (elf(ET_EXEC, 183, &[1]), "not x86-64"),
            (elf(1, EM_X86_64, &[1]), "not an executable"),
            (elf(ET_EXEC, EM_X86_64, &[]), "no program headers"),
            (elf(ET_EXEC, EM_X86_64, &[1])[..66].to_vec(), "truncated"),
            (b"#!/bin/sh\n".to_vec(), "not an ELF file"),
        ];
        for (bytes, reason) in cases {
            let error = check_static_x86_64(&bytes).unwrap_err();
            assert!(error.contains(reason), "{error:?} does not say {reason:?}");
        }
    }

    #[test]
    fn this_test_binary_is_judged_by_its_linking() {
        // The workspace builds for musl, so the test executable itself is static.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        check_static_x86_64(&exe).unwrap();
    }

    #[test]
    fn a_dynamic_system_binary_is_refused() {
        let bytes = std::fs::read("/bin/sh").unwrap();
        let error = check_static_x86_64(&bytes).unwrap_err();
        assert!(error.contains("PT_INTERP"), "{error}");
    }
}
