//! The plan hash: FNV-1a 128 over a plan's stage structure, written out here so that it is
//! the same in every build and on every machine (unlike `std`'s `DefaultHasher`).

/// An FNV-1a 128-bit hasher.
#[derive(Clone, Debug)]
pub(crate) struct Fnv128(u128);

const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

impl Default for Fnv128 {
    fn default() -> Self {
        Fnv128(OFFSET)
    }
}

impl Fnv128 {
    /// Hashes `bytes`.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self
    }

    /// Hashes a string, length first (so that `"ab","c"` differs from `"a","bc"`).
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }

    /// Hashes a number.
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// The hash as 32 hex digits.
    pub(crate) fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_128_vectors() {
        // FNV-1a 128 of "" is the offset basis; of "a", the published test vector.
        assert_eq!(Fnv128::default().hex(), "6c62272e07bb014262b821756295c58d");
        assert_eq!(
            Fnv128::default().bytes(b"a").hex(),
            "d228cb696f1a8caf78912b704e4a8964"
        );
    }

    #[test]
    fn strings_are_length_prefixed() {
        let ab_c = Fnv128::default().str("ab").str("c").hex();
        let a_bc = Fnv128::default().str("a").str("bc").hex();
        assert_ne!(ab_c, a_bc);
    }
}
