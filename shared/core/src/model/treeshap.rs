//! Exact path-dependent TreeSHAP (Lundberg et al. 2018, "Consistent individualized feature
//! attribution for tree ensembles") over the flattened trees of
//! [`XgbModel`](super::xgboost::XgbModel). Node covers (`sum_hessian`) play the role of the
//! training-data path weights.
//!
//! Two implementations of the same quantity:
//!
//! * `FastTreeShap`, used by `XgbModel::contributions`: O(nodes · ⌈depth/2⌉) per tree in `f64`,
//!   ~11× faster than xgboost's O(leaves · depth²) `f32` recursion on depth-5 and -6 trees.
//! * [`reference`], a transcription of xgboost's `TreeShap` (`src/predictor/treeshap.cc`, 3.x)
//!   restricted to the unconditioned case, in xgboost's `f32` arithmetic and operation order.
//!   Bit-exact with `predict(..., pred_contribs=True)`; the reference the fast version is tested
//!   against (`XgbModel::contributions_reference`), compiled for tests only.
//!
//! # The fast algorithm
//!
//! Take a leaf with value `v` whose root path splits on the distinct features `U` (`d = |U|`).
//! Merge the splits of each feature `j` on the path: zero fraction `z_j` = product of their cover
//! ratios `cover(child) / cover(parent)`, one fraction `o_j` = 1 iff the row follows all of them.
//! Path-dependent TreeSHAP credits feature `i ∈ U` with
//!
//! ```text
//! v (o_i − z_i) Σ_{S ⊆ U∖i} |S|! (d−|S|−1)! / d! · Π_{j∈S} o_j · Π_{j∈U∖S∖i} z_j
//!   = v (o_i − z_i) ∫₀¹ Π_{j∈U∖i} f_j(t) dt,        f_j(t) = z_j (1−t) + o_j t,
//! ```
//!
//! because the Shapley weight is the Beta integral `∫₀¹ t^s (1−t)^(d−1−s) dt`. The integrand is a
//! polynomial of degree ≤ depth − 1, so Gauss–Legendre quadrature with `q = ⌈depth/2⌉` points is
//! exact: all the work below is done on the values at those `q` points ("lanes"), with the
//! quadrature weights folded into the root.
//!
//! Instead of visiting every leaf's path (O(leaves · depth · q)), each tree is swept twice:
//!
//! * forward (parents before children): `A_n = w · Π f_j(t)` over the merged factors of the path
//!   root → `n`. An edge splitting feature `i` multiplies by `m = f_new / f_prev`, where `f_prev`
//!   is `i`'s merged factor above it (1 for the first split on `i`), so repeated features merge;
//! * backward (children before parents): `B_n = Σ_{leaves ℓ under n} v_ℓ · Π m` over the edges
//!   `n → ℓ`, so `A_n · B_n = Σ_ℓ w v_ℓ Π_j f_{ℓ,j}(t)`.
//!
//! At an inner node `n` splitting feature `i`, with `i`'s merged factor `f_p = z_p(1−t) + o_p t`
//! above it (`z_p = o_p = 1` if none) and children `c`:
//!
//! ```text
//! φ_i += Σ_lanes (A_n / f_p) · (Σ_c (o_c − z_c) B_c − (o_p − z_p) B_n)
//! ```
//!
//! The first term credits the leaves under `c` through the edge into `c`; the second takes back
//! what the edge above (`p`) credited for the leaves under `n`, whose merged factor for `i` is
//! decided here instead. Per lane this is exact algebra, and a leaf's terms add up to the
//! polynomial above, so the quadrature stays exact (it is linear). `f_p` can only be identically
//! zero if `z_p = o_p = 0`, and then `A_n = 0` too: that node contributes nothing.

#[cfg(test)]
use super::xgboost::LEAF_FEATURE;
use super::xgboost::{DEFAULT_LEFT_BIT, Node, feature_value};

/// Gauss–Legendre rule with `n` points on `[0, 1]` (Newton iteration on the Legendre polynomial;
/// accurate to ~1e-15 for the `n ≤ 64` used here). Exact for polynomials of degree ≤ `2n − 1`.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut nodes, mut weights) = (vec![0.0; n], vec![0.0; n]);
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        // Root i of P_n in descending order on [-1, 1]; the standard initial guess converges
        // in a handful of steps.
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let kf = k as f64;
                (p0, p1) = (p1, ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf);
            }
            // P_n and its derivative (P_1 = x when n = 1).
            let pn = if n == 1 { x } else { p1 };
            let pn1 = if n == 1 { 1.0 } else { p0 };
            dp = nf * (x * pn - pn1) / (x * x - 1.0);
            let step = pn / dp;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        // Map [-1, 1] to [0, 1]: the pair ±x gives 1/2 ∓ x/2.
        nodes[i] = 0.5 - 0.5 * x;
        nodes[n - 1 - i] = 0.5 + 0.5 * x;
        weights[i] = 0.5 * w;
        weights[n - 1 - i] = 0.5 * w;
    }
    (nodes, weights)
}

/// One inner node as the fast sweeps see it: the split plus everything about its two outgoing
/// edges that does not depend on the row.
///
/// Inner nodes are renumbered per tree into slots `1..=inner` (see [`TreeSlots`]); slot `s` owns
/// `stride` scratch values at `s · stride` (see [`FastScratch`]), and slot 0 is a dummy.
#[derive(Debug, Clone, Copy)]
struct ShapNode {
    /// Split feature, with [`DEFAULT_LEFT_BIT`] set when missing values go left.
    feature: u32,
    threshold: f32,
    /// Scratch offset of each child's slot; 0 (the dummy slot) for a leaf child.
    child: [u32; 2],
    /// Value of each leaf child; 0 for an inner child (so `B[child] + leaf` is the child's `B`).
    leaf: [f32; 2],
    /// Scratch offset of the one fraction of the prior edge `p` (the nearest split on the same
    /// feature above); the dummy slot's constant 1 when there is none.
    prior_one: u32,
    /// Offset in [`FastTreeShap::inv_prior`] of the `1 / f_p` lanes for `o_p = 0` (those for
    /// `o_p = 1` follow); 0, blocks of ones, when there is no prior.
    inv_prior: u32,
    /// Merged zero fraction of each outgoing edge: the product of the cover ratios of every split
    /// on this feature from the root down to this edge.
    zero: [f64; 2],
    /// Merged zero fraction of the prior edge (1 when there is none).
    prior_zero: f64,
}

/// One tree's slots in [`FastTreeShap::nodes`]. Slot `s` is `nodes[first + s - 1]`. Trees that
/// are a single leaf have none and are left out.
///
/// Slots `1..=upper` have an inner child and are in breadth-first order, so the sweeps can run
/// over them forwards and backwards. The rest have two leaf children and need one fused step
/// each: first `upper + 1..=plain` whose feature is new on their path (`f_p = 1`, which
/// simplifies the step a lot), then `plain + 1..=inner`.
#[derive(Debug, Clone, Copy)]
struct TreeSlots {
    first: u32,
    upper: u32,
    plain: u32,
    inner: u32,
}

/// Row-independent data of the fast TreeSHAP, built once per model.
///
/// 56 bytes per inner node plus `16 · lanes` per repeated-feature edge: ~0.6 MB for 200
/// depth-6 trees. The `Default` value has no trees and is only a placeholder during loading.
#[derive(Debug, Clone, Default)]
pub(crate) struct FastTreeShap {
    nodes: Vec<ShapNode>,
    trees: Vec<TreeSlots>,
    /// `1 / f_p(t)` per lane for each repeated-feature edge `p`: a block for `o_p = 0` (0 where
    /// `f_p` is identically zero, see the module docs), then one for `o_p = 1`. The first two
    /// blocks are ones, for nodes without a prior.
    inv_prior: Vec<f64>,
    /// Quadrature points on `[0, 1]`, padded to `lanes` with 0.5 (any point keeping factors
    /// finite) and weight 0, so padded lanes add nothing.
    points: Vec<f64>,
    weights: Vec<f64>,
    lanes: usize,
    /// Scratch values per slot: [`FastScratch`]'s layout.
    stride: usize,
    /// Inner nodes of the largest tree.
    max_inner: usize,
    /// One more than the largest feature split on.
    num_features: usize,
}

/// Per-thread scratch for [`FastTreeShap::add_contributions`], so a call does not allocate.
///
/// `buf` holds `stride = 6 · lanes + 2` values per slot, so a node's data shares cache lines and
/// the sweeps need a single base pointer: `A_s`, `B_s`, the factors `m` of the left and right
/// edge, the per-lane weights `u` of the children's `B` in the node's credit, and the edges' one
/// fractions (0 or 1). The dummy slot 0 absorbs the `A` written for leaf children, and keeps
/// `B = 0` and a left one fraction of 1 (the "no prior" value).
#[derive(Debug, Default)]
pub(crate) struct FastScratch {
    buf: Vec<f64>,
    /// Credit per feature and lane, summed over the lanes once at the end: adding whole lane
    /// vectors keeps a horizontal sum off every node's dependency chain.
    credit: Vec<f64>,
}

/// Quadrature constants as fixed-size arrays, so the per-node lane loops unroll and vectorize.
struct Lanes<const N: usize> {
    /// `t` per lane.
    t: [f64; N],
    /// `1 − t` per lane.
    omt: [f64; N],
    /// Quadrature weight per lane (0 for padding).
    w: [f64; N],
}

#[inline(always)]
fn load<const N: usize>(v: &[f64], at: usize) -> [f64; N] {
    let mut out = [0.0; N];
    out.copy_from_slice(&v[at..at + N]);
    out
}

#[inline(always)]
fn store<const N: usize>(v: &mut [f64], at: usize, x: [f64; N]) {
    v[at..at + N].copy_from_slice(&x);
}

/// A model too large for the `u32` offsets of the TreeSHAP tables (tens of millions of nodes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error("a tree with {inner_nodes} inner nodes is too large for TreeSHAP")]
    Tree { inner_nodes: usize },
    #[error("a model with {nodes} inner nodes is too large for TreeSHAP")]
    Model { nodes: usize },
}

impl FastTreeShap {
    /// Precomputes the per-node records of every tree. `roots` are the trees' first nodes in
    /// increasing order, each tree laid out breadth-first with siblings adjacent (parents before
    /// children, as the model stores them); `max_depth` is the deepest tree's depth
    /// (≤ `MAX_TREE_DEPTH`, so at most 64 quadrature points).
    ///
    /// Fails only for a tree too large for the `u32` scratch offsets (tens of millions of nodes).
    pub(crate) fn new(nodes: &[Node], covers: &[f32], roots: &[u32], max_depth: usize) -> Result<Self, TooLarge> {
        let points_needed = max_depth.div_ceil(2).max(1);
        // Powers of two: whole SIMD registers, and few monomorphized sweeps.
        let lanes = points_needed.next_power_of_two();
        let (mut points, mut weights) = gauss_legendre(points_needed);
        points.resize(lanes, 0.5);
        weights.resize(lanes, 0.0);
        let mut fast = FastTreeShap {
            nodes: Vec::new(),
            trees: Vec::with_capacity(roots.len()),
            inv_prior: vec![1.0; 2 * lanes],
            points,
            weights,
            lanes,
            stride: 6 * lanes + 2,
            num_features: 0,
            max_inner: 0,
        };
        let mut build = TreeBuild::default();
        for (start, end) in tree_ranges(roots, nodes.len()) {
            fast.push_tree(&nodes[start..end], &covers[start..end], start, &mut build)?;
        }
        Ok(fast)
    }

    fn push_tree(
        &mut self,
        tree: &[Node],
        covers: &[f32],
        start: usize,
        build: &mut TreeBuild,
    ) -> Result<(), TooLarge> {
        let TreeBuild { parent, zero, prior, slot, order, inv_blocks } = build;
        let n = tree.len();
        let left_of = |i: usize| tree[i].left as usize - start;
        let is_inner = |i: usize| !tree[i].is_leaf();

        // Tree order visits parents first, so everything above `i` is known when `i` is.
        parent.clear();
        parent.resize(n, usize::MAX);
        zero.clear();
        zero.resize(n, 1.0);
        prior.clear();
        prior.resize(n, None);
        for i in (0..n).filter(|&i| is_inner(i)) {
            let left = left_of(i);
            parent[left] = i;
            parent[left + 1] = i;
            // Nearest edge above (or into) i that splits on i's feature: the edge into `x`.
            let feature = tree[i].feature_index();
            let mut x = i;
            while let Some(&p) = parent.get(x).filter(|&&p| p != usize::MAX) {
                if tree[p].feature_index() == feature {
                    prior[i] = Some(x);
                    break;
                }
                x = p;
            }
            let above = prior[i].map_or(1.0, |x| zero[x]);
            for c in [left, left + 1] {
                zero[c] = above * (f64::from(covers[c]) / f64::from(covers[i]));
            }
        }

        // Slots: upper nodes in tree order, then leaf-pair nodes without and with a prior.
        let leaf_pair = |i: usize| is_inner(i) && !is_inner(left_of(i)) && !is_inner(left_of(i) + 1);
        order.clear();
        order.extend((0..n).filter(|&i| is_inner(i) && !leaf_pair(i)));
        let upper = order.len();
        order.extend((0..n).filter(|&i| leaf_pair(i) && prior[i].is_none()));
        let plain = order.len();
        order.extend((0..n).filter(|&i| leaf_pair(i) && prior[i].is_some()));
        slot.clear();
        slot.resize(n, 0);
        for (s, &i) in order.iter().enumerate() {
            slot[i] = s + 1;
        }

        if order.is_empty() {
            return Ok(()); // a single leaf: no feature to credit
        }
        let (lanes, stride) = (self.lanes, self.stride);
        // Every offset below is at most this, so checking it once makes the `as u32` exact.
        if u32::try_from((order.len() + 1) * stride).is_err() {
            return Err(TooLarge::Tree { inner_nodes: order.len() });
        }
        inv_blocks.clear();
        self.trees.push(TreeSlots {
            first: self.nodes.len() as u32,
            upper: upper as u32,
            plain: plain as u32,
            inner: order.len() as u32,
        });
        for &i in order.iter() {
            let (prior_one, inv_prior, prior_zero) = match prior[i] {
                // The dummy slot's left one fraction.
                None => (6 * lanes, 0, 1.0),
                Some(x) => {
                    let p = parent[x];
                    let one = slot[p] * stride + 6 * lanes + (x - left_of(p));
                    let block = match inv_blocks.iter().find(|&&(edge, _)| edge == x) {
                        Some(&(_, block)) => block,
                        None => {
                            let block = self.inv_prior.len();
                            self.push_inv_blocks(zero[x]);
                            inv_blocks.push((x, block));
                            block
                        }
                    };
                    (one, block, zero[x])
                }
            };
            let left = left_of(i);
            let side = |k: usize| {
                let c = left + k;
                if is_inner(c) { (slot[c] * stride, 0.0) } else { (0, tree[c].value) }
            };
            let ((cl, vl), (cr, vr)) = (side(0), side(1));
            self.num_features = self.num_features.max(tree[i].feature_index() + 1);
            self.nodes.push(ShapNode {
                feature: tree[i].feature,
                threshold: tree[i].value,
                child: [cl as u32, cr as u32],
                leaf: [vl, vr],
                prior_one: prior_one as u32,
                inv_prior: inv_prior as u32,
                zero: [zero[left], zero[left + 1]],
                prior_zero,
            });
        }
        self.max_inner = self.max_inner.max(order.len());
        if u32::try_from(self.inv_prior.len()).is_err() || u32::try_from(self.nodes.len()).is_err() {
            return Err(TooLarge::Model { nodes: self.nodes.len() });
        }
        Ok(())
    }

    /// Appends `1 / f_p` per lane for a prior edge with merged zero fraction `zp`, for `o_p = 0`
    /// then `o_p = 1`.
    fn push_inv_blocks(&mut self, zp: f64) {
        for one in [0.0, 1.0] {
            for &t in &self.points {
                let f = zp * (1.0 - t) + one * t;
                // f ≡ 0 only if zp = o_p = 0, and then A = 0 below: 0 keeps everything finite.
                self.inv_prior.push(if f > 0.0 { 1.0 / f } else { 0.0 });
            }
        }
    }

    /// Heap bytes of the precomputed data (for sizing; excludes per-thread scratch).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.len() * size_of::<ShapNode>()
            + self.trees.len() * size_of::<TreeSlots>()
            + (self.inv_prior.len() + self.points.len() + self.weights.len()) * size_of::<f64>()
    }

    /// Adds every tree's SHAP values for `row` into `phi` (one slot per feature; the bias is the
    /// caller's business).
    pub(crate) fn add_contributions(&self, row: &[f32], scratch: &mut FastScratch, phi: &mut [f64]) {
        if self.trees.is_empty() {
            return; // only stumps (or the loading placeholder): nothing to credit
        }
        match self.lanes {
            1 => self.sweep::<1>(row, scratch, phi),
            2 => self.sweep::<2>(row, scratch, phi),
            4 => self.sweep::<4>(row, scratch, phi),
            8 => self.sweep::<8>(row, scratch, phi),
            16 => self.sweep::<16>(row, scratch, phi),
            32 => self.sweep::<32>(row, scratch, phi),
            _ => self.sweep::<64>(row, scratch, phi),
        }
    }

    fn sweep<const N: usize>(&self, row: &[f32], scratch: &mut FastScratch, phi: &mut [f64]) {
        let mut lanes = Lanes { t: [0.5; N], omt: [0.5; N], w: [0.0; N] };
        for (k, (&t, &w)) in self.points.iter().zip(&self.weights).enumerate().take(N) {
            lanes.t[k] = t;
            lanes.omt[k] = 1.0 - t;
            lanes.w[k] = w;
        }
        let len = (self.max_inner + 1) * self.stride;
        let FastScratch { buf, credit } = scratch;
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        // The dummy slot's constants; another model's layout may have used these cells.
        store(buf, N, [0.0; N]);
        buf[6 * N] = 1.0;
        credit.clear();
        credit.resize(self.num_features * N, 0.0);
        let sweep = Sweep { row, lanes: &lanes, inv_prior: &self.inv_prior, stride: self.stride };
        for tree in &self.trees {
            let first = tree.first as usize;
            let nodes = &self.nodes[first..first + tree.inner as usize];
            sweep.tree(nodes, tree.upper as usize, tree.plain as usize, buf, credit);
        }
        for (phi, lanes) in phi.iter_mut().zip(credit.chunks_exact(N)) {
            *phi += lanes.iter().sum::<f64>();
        }
    }
}

/// Scratch for building one tree's records, reused across trees.
#[derive(Default)]
struct TreeBuild {
    /// Parent of each node (`usize::MAX` for the root).
    parent: Vec<usize>,
    /// Merged zero fraction of the edge into each node.
    zero: Vec<f64>,
    /// For an inner node: the node whose incoming edge is its prior edge.
    prior: Vec<Option<usize>>,
    /// Slot of each inner node.
    slot: Vec<usize>,
    /// Nodes in slot order.
    order: Vec<usize>,
    /// `(node below the prior edge, inv_prior offset)` pairs already written for this tree.
    inv_blocks: Vec<(usize, usize)>,
}

/// `(first, end)` node range of each tree.
fn tree_ranges(roots: &[u32], num_nodes: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    roots.iter().enumerate().map(move |(k, &root)| {
        let end = roots.get(k + 1).map_or(num_nodes, |&next| next as usize);
        (root as usize, end)
    })
}

/// Whether `row` goes left at `node` (xgboost's rule, see [`Node::next`]), as 0.0 or 1.0.
/// Branch-free: the direction is data, and a mispredicted branch costs more than the node.
#[inline(always)]
fn goes_left(node: &ShapNode, row: &[f32]) -> f64 {
    let x = feature_value(row, (node.feature & !DEFAULT_LEFT_BIT) as usize);
    let left = (x < node.threshold) | (x.is_nan() & (node.feature & DEFAULT_LEFT_BIT != 0));
    f64::from(u8::from(left))
}

/// What one row's sweeps over a tree share.
struct Sweep<'a, const N: usize> {
    row: &'a [f32],
    lanes: &'a Lanes<N>,
    inv_prior: &'a [f64],
    stride: usize,
}

/// The row-dependent part of a node's outgoing edges.
struct Edges<const N: usize> {
    /// Merged one fraction (0 or 1) of the left and right edge.
    one: [f64; 2],
    /// Merged one fraction of the prior edge (1 when there is none).
    prior_one: f64,
    /// `1 / f_p` per lane.
    inv: [f64; N],
    /// Factor `m` of the left and right edge.
    factor: [[f64; N]; 2],
}

impl<const N: usize> Sweep<'_, N> {
    /// Follows the row at `node` and derives its edges (see the module docs).
    #[inline(always)]
    fn edges(&self, node: &ShapNode, buf: &[f64]) -> Edges<N> {
        let prior_one = buf[node.prior_one as usize];
        let left = prior_one * goes_left(node, self.row);
        let one = [left, prior_one - left];
        let at = node.inv_prior as usize + if prior_one != 0.0 { N } else { 0 };
        let inv = load::<N>(self.inv_prior, at);
        let mut factor = [[0.0; N]; 2];
        for side in 0..2 {
            for k in 0..N {
                factor[side][k] = (node.zero[side] * self.lanes.omt[k] + one[side] * self.lanes.t[k]) * inv[k];
            }
        }
        Edges { one, prior_one, inv, factor }
    }

    /// The sweeps of the module docs over one tree's slots (see [`TreeSlots`]), adding each
    /// node's credit per lane into `credit` (`lanes` values per feature).
    ///
    /// A node's credit `Σ (A_n / f_p) (c_l B_l + c_r B_r − c_p B_n)` is rewritten as
    /// `Σ u_l B_l + u_r B_r` with `u = (A_n / f_p)(c − c_p m)`, all known in the forward sweep, so
    /// the backward sweep, whose steps wait on each other's `B`, does the least work.
    #[inline(always)]
    fn tree(&self, nodes: &[ShapNode], upper: usize, plain: usize, buf: &mut [f64], credit: &mut [f64]) {
        let (stride, lanes) = (self.stride, self.lanes);
        let (b_at, m_at, u_at, one_at) = (N, 2 * N, 4 * N, 6 * N);
        store(buf, stride, lanes.w);

        // Forward over the upper slots: A of the children (the dummy slot takes leaf children's),
        // and the node's factors and credit weights.
        for (s, node) in (1..).zip(&nodes[..upper]) {
            let at = s * stride;
            let e = self.edges(node, buf);
            let a = load::<N>(buf, at);
            let cp = e.prior_one - node.prior_zero;
            for side in 0..2 {
                let c = e.one[side] - node.zero[side];
                let m = e.factor[side];
                let (mut child, mut u) = ([0.0; N], [0.0; N]);
                for k in 0..N {
                    child[k] = a[k] * m[k];
                    u[k] = a[k] * e.inv[k] * (c - cp * m[k]);
                }
                store(buf, node.child[side] as usize, child);
                store(buf, at + m_at + side * N, m);
                store(buf, at + u_at + side * N, u);
                buf[at + one_at + side] = e.one[side];
            }
        }

        // Leaf pairs whose feature is new on the path: f_p = 1 and the children's B are their
        // values, so the credit is A times a constant and B is linear in t.
        for (s, node) in (upper + 1..).zip(&nodes[upper..plain]) {
            let at = s * stride;
            let left = goes_left(node, self.row);
            let a = load::<N>(buf, at);
            let (vl, vr) = (f64::from(node.leaf[0]), f64::from(node.leaf[1]));
            let (zl, zr) = (node.zero[0], node.zero[1]);
            let direct = (left - zl) * vl + (1.0 - left - zr) * vr;
            let (cold, hot) = (zl * vl + zr * vr, left * vl + (1.0 - left) * vr);
            let f = (node.feature & !DEFAULT_LEFT_BIT) as usize * N;
            let mut total = load::<N>(credit, f);
            let mut b = [0.0; N];
            for k in 0..N {
                total[k] += a[k] * direct;
                b[k] = lanes.omt[k] * cold + lanes.t[k] * hot;
            }
            store(credit, f, total);
            store(buf, at + b_at, b);
        }

        // Other leaf pairs: B and the credit at once.
        for (s, node) in (plain + 1..).zip(&nodes[plain..]) {
            let at = s * stride;
            let e = self.edges(node, buf);
            let a = load::<N>(buf, at);
            let (vl, vr) = (f64::from(node.leaf[0]), f64::from(node.leaf[1]));
            let direct = (e.one[0] - node.zero[0]) * vl + (e.one[1] - node.zero[1]) * vr;
            let cp = e.prior_one - node.prior_zero;
            let f = (node.feature & !DEFAULT_LEFT_BIT) as usize * N;
            let mut total = load::<N>(credit, f);
            let mut b = [0.0; N];
            for k in 0..N {
                b[k] = e.factor[0][k] * vl + e.factor[1][k] * vr;
                total[k] += a[k] * e.inv[k] * (direct - cp * b[k]);
            }
            store(credit, f, total);
            store(buf, at + b_at, b);
        }

        // Backward over the upper slots: B from the children's, and the credit.
        for (i, node) in nodes[..upper].iter().enumerate().rev() {
            let at = (i + 1) * stride;
            let bl = load::<N>(buf, node.child[0] as usize + b_at);
            let br = load::<N>(buf, node.child[1] as usize + b_at);
            let (vl, vr) = (f64::from(node.leaf[0]), f64::from(node.leaf[1]));
            let (ml, mr) = (load::<N>(buf, at + m_at), load::<N>(buf, at + m_at + N));
            let (ul, ur) = (load::<N>(buf, at + u_at), load::<N>(buf, at + u_at + N));
            let f = (node.feature & !DEFAULT_LEFT_BIT) as usize * N;
            let mut total = load::<N>(credit, f);
            let mut b = [0.0; N];
            for k in 0..N {
                let (bl, br) = (bl[k] + vl, br[k] + vr);
                b[k] = ml[k] * bl + mr[k] * br;
                total[k] += ul[k] * bl + ur[k] * br;
            }
            store(credit, f, total);
            store(buf, at + b_at, b);
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
pub(crate) mod reference;
#[cfg(test)]
mod tests;
