//! Distinct called numbers without keeping the numbers: a 128-bit linear-counting sketch per usage
//! bucket (Whang, Vander-Zanden & Taylor 1990). A number sets one bit, chosen by its hash; the
//! union of a window's buckets is the bitwise OR, and `n̂ = -m · ln(zero bits / m)` estimates how
//! many distinct numbers set it.
//!
//! Error (m = 128): exact in expectation, standard error ≈ √(m(e^t − t − 1)) / n with t = n/m:
//! ≈ 3 % at 10 distinct numbers, 7 % at 100, 10 % at 300; the sketch saturates (every bit set)
//! around 600 distinct numbers, and reports [`Distinct::SATURATED`] beyond. A window of SIM-box or
//! Wangiri traffic is far past any threshold that matters long before that.

/// One bit per hashed called number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Distinct(pub u128);

impl Distinct {
    const BITS: u32 = 128;
    /// What a full sketch reports: m · ln m.
    pub const SATURATED: u32 = 621;

    /// The bit of a number's hash. FNV-1a leaves the high bits of similar numbers (consecutive
    /// ranges) alike, so the hash is mixed first.
    pub fn bit(hash: u64) -> Distinct {
        Distinct(1u128 << (crate::rng::mix64(hash) >> 57))
    }

    pub fn insert(&mut self, hash: u64) {
        self.0 |= Distinct::bit(hash).0;
    }

    pub fn union(self, other: Distinct) -> Distinct {
        Distinct(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The linear-counting estimate of the distinct numbers that set the sketch, rounded.
    pub fn estimate(self) -> u32 {
        let zeros = self.0.count_zeros();
        if zeros == 0 {
            return Distinct::SATURATED;
        }
        let m = f64::from(Distinct::BITS);
        (-m * (f64::from(zeros) / m).ln()).round() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::state::stable_hash;

    #[test]
    fn when_few_numbers_are_counted_should_be_exact_unless_they_collide() {
        let mut d = Distinct::default();
        assert_eq!(d.estimate(), 0);
        d.insert(stable_hash("34911234567"));
        d.insert(stable_hash("34911234567"));
        assert_eq!(d.estimate(), 1);
        d.insert(stable_hash("34911234568"));
        assert_eq!(d.estimate(), 2);
    }

    #[test]
    fn when_many_numbers_are_counted_should_stay_within_the_documented_error() {
        let mut rng = Rng::new(11);
        for (n, tolerance) in [(10usize, 0.15), (100, 0.2), (300, 0.3)] {
            // Average relative error over independent trials (one trial can be unlucky).
            let trials = 200;
            let mut total = 0.0;
            for _ in 0..trials {
                let mut d = Distinct::default();
                for _ in 0..n {
                    d.insert(rng.next_u64());
                }
                total += (f64::from(d.estimate()) - n as f64).abs() / n as f64;
            }
            let mean_error = total / f64::from(trials);
            assert!(mean_error < tolerance, "n = {n}: mean relative error {mean_error:.3}");
        }
        let full = Distinct(u128::MAX);
        assert_eq!(full.estimate(), Distinct::SATURATED);
    }
}
