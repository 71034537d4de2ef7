//! Content addressing: sha256 digests in the form OCI writes them (`sha256:` and 64 lowercase
//! hex digits), and a reader that hashes and counts what passes through it, so that a blob is
//! verified while it streams instead of being trusted by its file name.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// The prefix of every digest the store accepts: sha256 is the only algorithm (as in
/// containerd's and containers/image's layouts in practice).
pub(crate) const SHA256: &str = "sha256:";

/// The hex part of `digest` if it is `sha256:` and 64 lowercase hex digits, else `None`. A hex
/// part that passes is safe to use as a file name.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix(SHA256)?;
    (hex.len() == 64 && is_lower_hex(hex)).then_some(hex)
}

/// Whether `text` is made of lowercase hex digits only (and not empty).
pub(crate) fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `sha256:<hex>` of `bytes`.
#[cfg(test)]
pub(crate) fn sha256_of(bytes: &[u8]) -> String {
    format!("{SHA256}{:x}", Sha256::digest(bytes))
}

/// A reader that feeds every byte it reads into sha256 and counts them.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left of the stream, so that the digest covers all of it (a tar reader
    /// stops at the end-of-archive blocks; the padding after them is part of the diff_id).
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The digest (`sha256:<hex>`) and length of what was read.
    pub(crate) fn finish(self) -> (String, u64) {
        (format!("{SHA256}{:x}", self.hasher.finalize()), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_for_form() {
        let good = sha256_of(b"");
        assert_eq!(
            good,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256_hex(&good), Some(&good[7..]));
        for bad in [
            "sha256:",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:../../../../../../../../../../../../../../../../../../../etc/x",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        ] {
            assert_eq!(sha256_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_reader_hashes_everything_including_what_is_drained() {
        let data = vec![7u8; 100_000];
        let mut reader = HashingReader::new(&data[..]);
        let mut head = [0u8; 10];
        reader.read_exact(&mut head).unwrap();
        reader.drain().unwrap();
        assert_eq!(reader.finish(), (sha256_of(&data), 100_000));
    }
}
