//! Unique contact ids: the first row with an id keeps it; a later one is a
//! duplicate. Ids are kept as 128-bit hashes (16 bytes each, whatever their
//! length), so a million contacts cost a few tens of MB at most.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

#[derive(Default)]
pub struct Ids {
    first_row: HashMap<u128, u64>,
}

impl Ids {
    /// Record `id` at `row`; `Some(first)` if a previous row had it.
    pub fn first_seen(&mut self, id: &[u8], row: u64) -> Option<u64> {
        match self.first_row.entry(hash(id)) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(row);
                None
            }
        }
    }
}

/// Two independent 64-bit hashes: a false duplicate among a billion ids has
/// a probability near 1e-20.
fn hash(id: &[u8]) -> u128 {
    let one = |salt: u8| {
        let mut h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
        h.write_u8(salt);
        h.write(id);
        h.finish()
    };
    (u128::from(one(1)) << 64) | u128::from(one(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_row_keeps_an_id() {
        let mut ids = Ids::default();
        assert_eq!(ids.first_seen(b"c1", 2), None);
        assert_eq!(ids.first_seen(b"c2", 3), None);
        assert_eq!(ids.first_seen(b"c1", 4), Some(2));
        assert_eq!(ids.first_seen(b"c1", 5), Some(2));
    }
}
