//! A seeded uniform sample of N rows that keeps input order, in memory bounded by N
//! (reservoir sampling).

/// Keeps a uniform sample of at most `capacity` items out of all items offered.
pub struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    kept: Vec<(u64, T)>,
    rng: fastrand::Rng,
}

impl<T> Reservoir<T> {
    /// An empty reservoir; the same `seed` and the same offers give the same sample.
    pub fn new(capacity: usize, seed: u64) -> Self {
        Reservoir {
            capacity,
            seen: 0,
            kept: Vec::with_capacity(capacity.min(4096)),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Offers the next item; it may displace one kept earlier. Returns the item when it is not
    /// kept, or the one it displaced.
    pub fn offer(&mut self, item: T) -> Option<T> {
        let index = self.seen;
        self.seen += 1;
        if self.kept.len() < self.capacity {
            self.kept.push((index, item));
            return None;
        }
        let slot = self.rng.u64(0..=index);
        match usize::try_from(slot) {
            Ok(slot) if slot < self.capacity => {
                Some(std::mem::replace(&mut self.kept[slot], (index, item)).1)
            }
            _ => Some(item),
        }
    }

    /// The kept items in the order they were offered.
    pub fn into_sorted(mut self) -> Vec<T> {
        self.kept.sort_by_key(|(index, _)| *index);
        self.kept.into_iter().map(|(_, item)| item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, seed: u64, items: u32) -> Vec<u32> {
        let mut reservoir = Reservoir::new(n, seed);
        for i in 0..items {
            reservoir.offer(i);
        }
        reservoir.into_sorted()
    }

    #[test]
    fn sample_is_sorted_reproducible_and_seed_dependent() {
        let a = sample(10, 42, 1000);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample(10, 42, 1000));
        assert_ne!(a, sample(10, 43, 1000));
        assert_eq!(sample(10, 1, 5), [0, 1, 2, 3, 4]);
        assert!(sample(0, 1, 5).is_empty());
    }

    #[test]
    fn every_item_has_a_fair_chance() {
        // 2000 samples of 1 out of 4: each item should be picked roughly 500 times.
        let mut counts = [0u32; 4];
        for seed in 0..2000 {
            counts[sample(1, seed, 4)[0] as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (400..600).contains(&c)),
            "{counts:?}"
        );
    }
}
