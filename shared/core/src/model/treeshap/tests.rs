//! The fast TreeSHAP against the Shapley definition and xgboost's algorithm, on random trees.

use super::reference::{PathElement, path_buffer_len, tree_shap};
use super::*;
use crate::rng::Rng;

/// Draws on the project's one seeded generator.
trait Draw {
    fn next_f32(&mut self) -> f32;
    fn below_usize(&mut self, n: usize) -> usize;
}

impl Draw for Rng {
    fn next_f32(&mut self) -> f32 {
        self.f64() as f32
    }
    fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

/// Trees in the model's layout (breadth-first, siblings adjacent, leaves pointing to
/// themselves), with features drawn from few candidates so paths repeat them.
#[derive(Default)]
struct Forest {
    nodes: Vec<Node>,
    covers: Vec<f32>,
    roots: Vec<u32>,
    max_depth: usize,
}

impl Forest {
    /// A random tree: splits with probability `p_split` above `depth`, thresholds on a small
    /// grid so rows tie with them, and now and then a zero-cover leaf (zero fraction 0).
    fn push_random(&mut self, rng: &mut Rng, depth: usize, features: usize, p_split: f32) {
        let root = self.nodes.len();
        self.roots.push(root as u32);
        self.nodes.push(Node { value: 0.0, left: root as u32, feature: LEAF_FEATURE });
        self.covers.push(50.0 + 100.0 * rng.next_f32());
        let mut queue = std::collections::VecDeque::from([(root, 0usize, false)]);
        while let Some((i, d, force_leaf)) = queue.pop_front() {
            self.max_depth = self.max_depth.max(d);
            if force_leaf || d >= depth || rng.next_f32() >= p_split {
                self.nodes[i] = Node { value: rng.next_f32() * 2.0 - 1.0, left: i as u32, feature: LEAF_FEATURE };
                continue;
            }
            let feature = rng.below_usize(features) as u32 | if rng.next_f32() < 0.5 { DEFAULT_LEFT_BIT } else { 0 };
            let threshold = rng.below_usize(4) as f32 + if rng.next_f32() < 0.2 { 0.5 } else { 0.0 };
            let left = self.nodes.len();
            self.nodes[i] = Node { value: threshold, left: left as u32, feature };
            let cover = self.covers[i];
            let zero_cover = rng.next_f32() < 0.05;
            let left_cover = if zero_cover { 0.0 } else { cover * (0.05 + 0.9 * rng.next_f32()) };
            for (k, c) in [left_cover, cover - left_cover].into_iter().enumerate() {
                self.nodes.push(Node { value: 0.0, left: (left + k) as u32, feature: LEAF_FEATURE });
                self.covers.push(c);
                queue.push_back((left + k, d + 1, zero_cover && k == 0));
            }
        }
    }

    /// A chain: every split has a leaf child, so the tree is `depth` deep with few leaves.
    fn push_chain(&mut self, rng: &mut Rng, depth: usize, features: usize) {
        let root = self.nodes.len();
        self.roots.push(root as u32);
        self.max_depth = self.max_depth.max(depth);
        let mut cover = 1000.0f32;
        self.covers.push(cover);
        self.nodes.push(Node { value: 0.0, left: 0, feature: 0 });
        let mut i = root;
        for d in 0..depth {
            let left = self.nodes.len();
            let feature = rng.below_usize(features) as u32 | if rng.next_f32() < 0.5 { DEFAULT_LEFT_BIT } else { 0 };
            self.nodes[i] = Node { value: rng.below_usize(4) as f32, left: left as u32, feature };
            let inner_side = rng.below_usize(2);
            let inner_cover = cover * (0.6 + 0.35 * rng.next_f32());
            for k in 0..2 {
                let c = if k == inner_side { inner_cover } else { cover - inner_cover };
                let value = rng.next_f32() * 2.0 - 1.0;
                self.nodes.push(Node { value, left: (left + k) as u32, feature: LEAF_FEATURE });
                self.covers.push(c);
            }
            cover = inner_cover;
            i = left + inner_side;
            if d + 1 == depth {
                self.nodes[i].value = rng.next_f32() * 2.0 - 1.0;
            }
        }
    }

    fn fast(&self) -> FastTreeShap {
        FastTreeShap::new(&self.nodes, &self.covers, &self.roots, self.max_depth).unwrap()
    }

    fn tree_range(&self, k: usize) -> std::ops::Range<usize> {
        let end = self.roots.get(k + 1).map_or(self.nodes.len(), |&r| r as usize);
        self.roots[k] as usize..end
    }

    /// Path-dependent TreeSHAP straight from its definition, in `f64`: per leaf, merge the
    /// path's splits by feature and sum the Shapley weights over every subset.
    fn brute_force(&self, row: &[f32], phi: &mut [f64]) {
        for k in 0..self.roots.len() {
            let mut path = Vec::new();
            self.brute_force_walk(self.tree_range(k).start, row, &mut path, phi);
        }
    }

    fn brute_force_walk(&self, i: usize, row: &[f32], path: &mut Vec<(usize, f64, bool)>, phi: &mut [f64]) {
        let node = self.nodes[i];
        if node.is_leaf() {
            let mut merged: Vec<(usize, f64, bool)> = Vec::new();
            for &(f, ratio, follows) in path.iter() {
                match merged.iter_mut().find(|m| m.0 == f) {
                    Some(m) => {
                        m.1 *= ratio;
                        m.2 &= follows;
                    }
                    None => merged.push((f, ratio, follows)),
                }
            }
            let d = merged.len();
            let fact = |n: usize| (1..=n).map(|x| x as f64).product::<f64>();
            for (i, &(f, zi, oi)) in merged.iter().enumerate() {
                let others: Vec<_> = merged.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, m)| *m).collect();
                let mut total = 0.0;
                for mask in 0u32..(1 << others.len()) {
                    let s = mask.count_ones() as usize;
                    let mut term = fact(s) * fact(d - s - 1) / fact(d);
                    for (j, &(_, zj, oj)) in others.iter().enumerate() {
                        term *= if mask & (1 << j) != 0 { f64::from(u8::from(oj)) } else { zj };
                    }
                    total += term;
                }
                phi[f] += f64::from(node.value) * (f64::from(u8::from(oi)) - zi) * total;
            }
            return;
        }
        let hot = node.next(row);
        for c in [node.left as usize, node.left as usize + 1] {
            let ratio = f64::from(self.covers[c]) / f64::from(self.covers[i]);
            path.push((node.feature_index(), ratio, c == hot));
            self.brute_force_walk(c, row, path, phi);
            path.pop();
        }
    }

    /// xgboost's algorithm ([`tree_shap`]), summed over the trees.
    fn reference(&self, row: &[f32], phi: &mut [f32]) {
        let mut path = vec![PathElement::default(); path_buffer_len(self.max_depth)];
        for &root in &self.roots {
            tree_shap(&self.nodes, &self.covers, root as usize, row, &mut path, phi);
        }
    }
}

/// Rows over the threshold grid: ties, values between thresholds, and missing values.
fn random_row(rng: &mut Rng, features: usize) -> Vec<f32> {
    (0..features)
        .map(|_| match rng.below_usize(6) {
            0 => f32::NAN,
            1 => rng.below_usize(4) as f32 + 0.5,
            _ => rng.below_usize(5) as f32,
        })
        .collect()
}

fn fast_phi(fast: &FastTreeShap, row: &[f32], features: usize, scratch: &mut FastScratch) -> Vec<f64> {
    let mut phi = vec![0.0; features];
    fast.add_contributions(row, scratch, &mut phi);
    phi
}

#[test]
fn when_gauss_legendre_rule_has_n_points_should_integrate_degree_2n_minus_1_exactly() {
    for n in 1..=64 {
        let (t, w) = gauss_legendre(n);
        assert!(t.iter().all(|&t| t > 0.0 && t < 1.0), "n {n}: points outside (0, 1)");
        for degree in 0..2 * n {
            let approx: f64 = t.iter().zip(&w).map(|(&t, &w)| w * t.powi(degree as i32)).sum();
            let exact = 1.0 / (degree + 1) as f64;
            assert!((approx - exact).abs() < 1e-13, "n {n}, t^{degree}: {approx} vs {exact}");
        }
    }
}

#[test]
fn when_fast_shap_runs_on_random_trees_should_match_the_shapley_definition() {
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut scratch = FastScratch::default();
    let mut worst = 0f64;
    for depth in 1..=10 {
        for features in [1, 2, 3, 6] {
            let mut forest = Forest::default();
            for _ in 0..4 {
                forest.push_random(&mut rng, depth, features, 0.8);
            }
            let fast = forest.fast();
            for _ in 0..20 {
                let row = random_row(&mut rng, features);
                let ours = fast_phi(&fast, &row, features, &mut scratch);
                let mut exact = vec![0.0; features];
                forest.brute_force(&row, &mut exact);
                for (f, (&a, &b)) in ours.iter().zip(&exact).enumerate() {
                    worst = worst.max((a - b).abs());
                    assert!((a - b).abs() < 1e-10, "depth {depth}, feature {f}: {a} vs {b}, row {row:?}");
                }
            }
        }
    }
    eprintln!("fast vs Shapley definition: max |diff| {worst:e}");
}

#[test]
fn when_fast_shap_runs_on_random_trees_should_match_xgboosts_algorithm() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut scratch = FastScratch::default();
    for depth in [2, 4, 6, 8] {
        let features = 5;
        let mut forest = Forest::default();
        for _ in 0..20 {
            forest.push_random(&mut rng, depth, features, 0.9);
        }
        let fast = forest.fast();
        for _ in 0..50 {
            let row = random_row(&mut rng, features);
            let ours = fast_phi(&fast, &row, features, &mut scratch);
            let mut theirs = vec![0.0f32; features];
            forest.reference(&row, &mut theirs);
            for (f, (&a, &b)) in ours.iter().zip(&theirs).enumerate() {
                // The reference rounds to f32 at every step.
                let tolerance = 1e-5 * f64::from(b.abs()).max(1.0);
                assert!((a - f64::from(b)).abs() < tolerance, "depth {depth}, feature {f}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn when_trees_are_deep_chains_should_use_wide_lanes_and_stay_exact() {
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    let mut scratch = FastScratch::default();
    for depth in [17, 33, 64, 100, 128] {
        let mut forest = Forest::default();
        for _ in 0..3 {
            forest.push_chain(&mut rng, depth, 3);
        }
        let fast = forest.fast();
        assert_eq!(fast.lanes, depth.div_ceil(2).next_power_of_two());
        for _ in 0..10 {
            let row = random_row(&mut rng, 3);
            let ours = fast_phi(&fast, &row, 3, &mut scratch);
            let mut exact = vec![0.0; 3];
            forest.brute_force(&row, &mut exact);
            for (&a, &b) in ours.iter().zip(&exact) {
                assert!((a - b).abs() < 1e-10, "depth {depth}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn when_one_thread_scores_models_of_different_depths_should_not_mix_their_scratch() {
    let mut rng = Rng::new(0x0123_4567_89ab_cdef);
    let (mut shallow, mut deep) = (Forest::default(), Forest::default());
    for _ in 0..5 {
        shallow.push_random(&mut rng, 6, 4, 0.9);
        deep.push_random(&mut rng, 20, 4, 0.6);
    }
    let (shallow, deep_fast) = (shallow.fast(), deep.fast());
    assert_ne!(shallow.lanes, deep_fast.lanes);
    let row = random_row(&mut rng, 4);
    let fresh = fast_phi(&shallow, &row, 4, &mut FastScratch::default());
    let mut shared = FastScratch::default();
    for _ in 0..2 {
        let first = fast_phi(&shallow, &row, 4, &mut shared);
        let deep_phi = fast_phi(&deep_fast, &row, 4, &mut shared);
        assert_eq!(first, fresh);
        assert_eq!(deep_phi, fast_phi(&deep_fast, &row, 4, &mut FastScratch::default()));
    }
}

#[test]
fn when_every_tree_is_a_single_leaf_should_credit_nothing() {
    let mut forest = Forest::default();
    forest.push_random(&mut Rng::new(7), 0, 3, 1.0);
    let fast = forest.fast();
    assert_eq!(fast_phi(&fast, &[1.0, 2.0, 3.0], 3, &mut FastScratch::default()), vec![0.0; 3]);
    let placeholder = FastTreeShap::default();
    assert_eq!(fast_phi(&placeholder, &[1.0], 1, &mut FastScratch::default()), vec![0.0]);
}
