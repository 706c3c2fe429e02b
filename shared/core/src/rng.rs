//! The one deterministic PRNG: the simulator's traffic, the test kit's injected faults, randomized
//! tests.
//!
//! We deliberately do not depend on the `rand` crate: a dataset must be reproducible from its
//! seed forever, whatever crate versions are resolved. SplitMix64 expands seeds; xoshiro256**
//! (Blackman & Vigna) produces the stream. Every derived distribution below is implemented here
//! with plain `f64` arithmetic so its output never changes behind our back.

/// SplitMix64 step: advances `state` and returns a well-mixed 64-bit value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// The SplitMix64 finaliser: a bijective avalanche mix of one word.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a few words (order-sensitive); used to derive independent streams and ids.
pub fn hash_words(words: &[u64]) -> u64 {
    let mut h = 0x6A09_E667_F3BC_C908u64;
    for &w in words {
        h = mix64(h ^ w).wrapping_add(0x9E37_79B9_7F4A_7C15);
    }
    mix64(h)
}

/// xoshiro256** generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the four state words from SplitMix64, as the xoshiro authors recommend (this also
    /// guarantees a non-zero state).
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        Rng { s: [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)] }
    }

    /// An independent stream for a (seed, stream, index) triple, e.g. one per subscriber, so that
    /// subscribers can be generated in any order (or in parallel) with identical results.
    pub fn derive(seed: u64, stream: u64, index: u64) -> Rng {
        Rng::new(hash_words(&[seed, stream, index]))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in [0, n); 0 when n == 0. Lemire's multiply-shift with rejection, so the
    /// result is unbiased.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform integer in [lo, hi] (inclusive); `lo` when hi < lo.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform index into a slice of length `len` (0 for an empty slice; callers check).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal via Box–Muller (one value per call; simplicity beats caching here).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // 1 - f64() is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        mean + sd * z
    }

    /// Log-normal with the given median and log-space standard deviation.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * self.normal(0.0, sigma).exp()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Poisson count. Knuth's product method for small lambda (exact); a rounded normal
    /// approximation above 30, where it is accurate enough for traffic volumes.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return self.normal(lambda, lambda.sqrt()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0u64;
        let mut p = self.f64();
        while p > limit {
            k += 1;
            p *= self.f64();
        }
        k
    }

    /// Index chosen with probability proportional to `weights` (non-positive weights never win).
    /// Returns 0 when all weights are zero; callers pass at least one positive weight.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total.is_nan() || total <= 0.0 {
            return 0;
        }
        let mut x = self.f64() * total;
        let mut last = 0;
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                if x < w {
                    return i;
                }
                x -= w;
                last = i;
            }
        }
        // Floating-point leftovers land on the last positive weight.
        last
    }

    /// An element of `items` weighted by the `f64` in each pair; panics on an empty slice, so
    /// only call it on non-empty tables.
    pub fn pick_weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let mut total = 0.0;
        for (_, w) in items {
            total += w.max(0.0);
        }
        let mut x = self.f64() * total;
        for (item, w) in items {
            let w = w.max(0.0);
            if x < w {
                return *item;
            }
            x -= w;
        }
        items[items.len() - 1].0
    }

    /// A uniformly chosen element; panics on an empty slice, so only call it on non-empty
    /// constant tables.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// One decimal digit as an ASCII byte.
    pub fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }

    /// Appends `n` random decimal digits to `out`.
    pub fn push_digits(&mut self, out: &mut String, n: usize) {
        for _ in 0..n {
            out.push(self.digit() as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_seeded_identically_should_produce_identical_streams() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn when_stream_is_pinned_should_never_change() {
        // Golden values: if these change, every dataset generated so far changes too.
        let mut sm = 1234567u64;
        assert_eq!(splitmix64(&mut sm), 6457827717110365317);
        assert_eq!(splitmix64(&mut sm), 3203168211198807973);
        let mut r = Rng::new(42);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Rng::new(42);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn when_sampling_distributions_should_match_their_moments() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let u: Vec<f64> = (0..n).map(|_| r.f64()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        assert!((mean(&u) - 0.5).abs() < 0.01);
        let g: Vec<f64> = (0..n).map(|_| r.normal(3.0, 2.0)).collect();
        assert!((mean(&g) - 3.0).abs() < 0.05);
        let e: Vec<f64> = (0..n).map(|_| r.exponential(5.0)).collect();
        assert!((mean(&e) - 5.0).abs() < 0.2);
        for lambda in [0.5, 4.0, 12.0, 80.0] {
            let p: Vec<f64> = (0..n).map(|_| r.poisson(lambda) as f64).collect();
            assert!((mean(&p) - lambda).abs() < lambda.sqrt() * 0.05 + 0.02, "poisson {lambda}");
        }
        let ln: Vec<f64> = (0..n).map(|_| r.lognormal(10.0, 0.5)).collect();
        let mut sorted = ln;
        sorted.sort_by(f64::total_cmp);
        assert!((sorted[n / 2] - 10.0).abs() < 0.3);
    }

    #[test]
    fn when_choosing_by_weight_should_respect_weights_and_ranges() {
        let mut r = Rng::new(3);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[r.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f64 / counts[0] as f64 - 3.0).abs() < 0.2);
        for _ in 0..1000 {
            let x = r.range(-2, 2);
            assert!((-2..=2).contains(&x));
            assert!(r.below(7) < 7);
        }
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.pick_weighted(&[("a", 0.0), ("b", 1.0)]), "b");
    }
}
