//! Unique contact ids: the first row with an id keeps it; a later one is a
//! duplicate. Ids are kept as 64-bit hashes in a set hashed by identity
//! (8 bytes each, whatever their length): a million contacts cost about
//! 20 MB, where the ids themselves (or a map to their first row) would cost
//! several times that. Two distinct ids collide with a probability below
//! 3e-8 in a file of a million.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct Ids {
    seen: HashSet<u64, BuildHasherDefault<Identity>>,
}

impl Ids {
    /// Record `id`; `true` if an earlier row had it.
    pub fn seen_before(&mut self, id: &[u8]) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(id);
        !self.seen.insert(h.finish())
    }
}

/// The keys are hashes already.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_row_keeps_an_id() {
        let mut ids = Ids::default();
        assert!(!ids.seen_before(b"c1"));
        assert!(!ids.seen_before(b"c2"));
        assert!(ids.seen_before(b"c1"));
        assert!(ids.seen_before(b"c1"));
        assert!(!ids.seen_before(b"c10"));
    }
}
