//! Hash maps and sets for the topology analysis, with a fast non-cryptographic hasher.
//!
//! The analysis indexes a file's syntax by span and its names by string in maps rebuilt on
//! every check (an editor re-checks on every keystroke): with the standard SipHash, hashing was
//! a tenth of a big file's checks. Keys come from the one file being checked, and iteration
//! order was already unspecified (SipHash is seeded per process), so nothing observable changes.
//! The mixing is rustc's FxHash (rustc-hash 2: add and multiply per word), finished with a
//! folded 128-bit multiply so that hashbrown's bucket index (the low bits) is well mixed.

use std::hash::{BuildHasherDefault, Hasher};

/// `std::collections::HashMap` with [`FastHasher`]; make one with `HashMap::default()`.
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// `std::collections::HashSet` with [`FastHasher`]; make one with `HashSet::default()`.
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FastHasher>>;

/// FxHash's multiplier (rustc-hash 2).
const SEED: u64 = 0xf135_7aea_2e62_a9c5;

/// The multiplier of the final fold (the golden ratio, as in Fibonacci hashing).
const FOLD: u64 = 0x9e37_79b9_7f4a_7c15;

/// rustc's FxHash: not DoS-resistant, which a checker of the user's own files does not need.
#[derive(Clone, Copy, Default)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = self.hash.wrapping_add(word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // A folded multiply: FxHash alone maps spans in arithmetic progression (every
        // statement of a generated file) to few buckets, since its hash is then linear in them.
        let full = u128::from(self.hash) * u128::from(FOLD);
        (full as u64) ^ ((full >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    #[test]
    fn maps_keyed_by_spans_and_strings_work() {
        let mut by_span: HashMap<Span, usize> = HashMap::default();
        for i in 0..10_000 {
            by_span.insert(Span::new(i * 3, i * 3 + 7), i);
        }
        assert!((0..10_000).all(|i| by_span.get(&Span::new(i * 3, i * 3 + 7)) == Some(&i)));
        let names: HashSet<String> = ["a", "a\0", "ab", "service", "servicf"].iter().map(|s| s.to_string()).collect();
        assert_eq!(names.len(), 5);
    }

    #[test]
    fn nearby_keys_hash_apart() {
        let hash = |span: Span| {
            let mut h = FastHasher::default();
            std::hash::Hash::hash(&span, &mut h);
            h.finish()
        };
        let low_bits: HashSet<u64> = (0..1024).map(|i| hash(Span::new(i * 8, i * 8 + 3)) & 1023).collect();
        // Uniformly random hashes would give about 647 distinct values.
        assert!(low_bits.len() > 550, "bucket indexes collide: {} distinct of 1024", low_bits.len());
    }
}
