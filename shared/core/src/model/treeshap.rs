//! Exact path-dependent TreeSHAP (Lundberg et al. 2018, "Consistent individualized feature
//! attribution for tree ensembles") over the flattened trees of
//! [`XgbModel`](super::xgboost::XgbModel). Node covers (`sum_hessian`) play the role of the
//! training-data path weights.
//!
//! Two implementations of the same quantity:
//!
//! * `FastTreeShap`, used by `XgbModel::contributions`: O(nodes · ⌈depth/2⌉) per tree in `f64`,
//!   ~11× faster than xgboost's O(leaves · depth²) `f32` recursion on depth-5 and -6 trees.
//! * `tree_shap`, a transcription of xgboost's `TreeShap` (`src/predictor/treeshap.cc`, 3.x)
//!   restricted to the unconditioned case, in xgboost's `f32` arithmetic and operation order.
//!   Bit-exact with `predict(..., pred_contribs=True)`; kept as the reference the fast version is
//!   tested against (`XgbModel::contributions_reference`).
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

impl FastTreeShap {
    /// Precomputes the per-node records of every tree. `roots` are the trees' first nodes in
    /// increasing order, each tree laid out breadth-first with siblings adjacent (parents before
    /// children, as the model stores them); `max_depth` is the deepest tree's depth
    /// (≤ `MAX_TREE_DEPTH`, so at most 64 quadrature points).
    ///
    /// Fails only for a tree too large for the `u32` scratch offsets (tens of millions of nodes).
    pub(crate) fn new(nodes: &[Node], covers: &[f32], roots: &[u32], max_depth: usize) -> Result<Self, String> {
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

    fn push_tree(&mut self, tree: &[Node], covers: &[f32], start: usize, build: &mut TreeBuild) -> Result<(), String> {
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
            return Err(format!("a tree with {} inner nodes is too large for TreeSHAP", order.len()));
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
            return Err("model is too large for TreeSHAP".into());
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

/// One entry of the unique decision path. `pweight` of the i-th element is the permutation
/// weight of subsets with `i` features "on" (see the paper).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathElement {
    /// Feature split on; `u32::MAX` for the artificial root element.
    feature: u32,
    zero_fraction: f32,
    one_fraction: f32,
    pweight: f32,
}

/// Path buffer length for trees up to `max_depth` deep: every recursion level keeps its own copy
/// of the path (at most `depth + 2` entries), as in xgboost's `CalculateContributions`.
pub(crate) fn path_buffer_len(max_depth: usize) -> usize {
    let maxd = max_depth + 2;
    maxd * (maxd + 1) / 2
}

/// Adds one tree's SHAP values for `row` into `phi` (one slot per feature; the bias slot is the
/// caller's business). `path` must hold at least [`path_buffer_len`] of the tree's depth.
pub(crate) fn tree_shap(
    nodes: &[Node],
    covers: &[f32],
    root: usize,
    row: &[f32],
    path: &mut [PathElement],
    phi: &mut [f32],
) {
    let ctx = Tree { nodes, covers, row };
    ctx.recurse(phi, root, 0, path, 1.0, 1.0, u32::MAX);
}

struct Tree<'a> {
    nodes: &'a [Node],
    covers: &'a [f32],
    row: &'a [f32],
}

impl Tree<'_> {
    /// xgboost's `TreeShap` with `condition == 0` (so `condition_fraction` is always 1).
    /// `parent_path` starts with the parent's unique path; this level's copy follows it.
    #[allow(clippy::too_many_arguments)] // mirrors the reference signature on purpose
    fn recurse(
        &self,
        phi: &mut [f32],
        node_index: usize,
        mut unique_depth: usize,
        parent_path: &mut [PathElement],
        parent_zero_fraction: f32,
        parent_one_fraction: f32,
        parent_feature: u32,
    ) {
        // Extend the unique path with a copy of the parent's (the entry at `unique_depth` is
        // overwritten by `extend_path` right away).
        let (parent, path) = parent_path.split_at_mut(unique_depth + 1);
        path[..=unique_depth].copy_from_slice(parent);
        extend_path(path, unique_depth, parent_zero_fraction, parent_one_fraction, parent_feature);

        let node = self.nodes[node_index];
        if node.is_leaf() {
            leaf_contributions(path, unique_depth, node.value, phi);
            return;
        }

        // The "hot" child is the one the row actually follows.
        let hot = node.next(self.row);
        let cold = if hot == node.left as usize { hot + 1 } else { node.left as usize };
        let w = self.covers[node_index];
        let hot_zero_fraction = self.covers[hot] / w;
        let cold_zero_fraction = self.covers[cold] / w;
        let mut incoming_zero_fraction = 1.0;
        let mut incoming_one_fraction = 1.0;

        // If this feature was split on higher up, undo that split so it can be redone here.
        let split = node.feature_index() as u32;
        if let Some(path_index) = path[..=unique_depth].iter().position(|e| e.feature == split) {
            incoming_zero_fraction = path[path_index].zero_fraction;
            incoming_one_fraction = path[path_index].one_fraction;
            unwind_path(path, unique_depth, path_index);
            unique_depth -= 1;
        }

        self.recurse(
            phi,
            hot,
            unique_depth + 1,
            path,
            hot_zero_fraction * incoming_zero_fraction,
            incoming_one_fraction,
            split,
        );
        self.recurse(phi, cold, unique_depth + 1, path, cold_zero_fraction * incoming_zero_fraction, 0.0, split);
    }
}

/// Extends the decision path with a fraction of zero and one extensions (xgboost `ExtendPath`).
fn extend_path(path: &mut [PathElement], unique_depth: usize, zero_fraction: f32, one_fraction: f32, feature: u32) {
    path[unique_depth] =
        PathElement { feature, zero_fraction, one_fraction, pweight: if unique_depth == 0 { 1.0 } else { 0.0 } };
    let d1 = (unique_depth + 1) as f32;
    // `upper` carries the already-updated path[i + 1].pweight in a register, which keeps the
    // loop free of store-to-load round trips; the arithmetic is xgboost's, unchanged.
    let mut upper = path[unique_depth].pweight;
    for i in (0..unique_depth).rev() {
        let pweight = path[i].pweight;
        path[i + 1].pweight = upper + one_fraction * pweight * (i + 1) as f32 / d1;
        upper = zero_fraction * pweight * (unique_depth - i) as f32 / d1;
    }
    path[0].pweight = upper;
}

/// Undoes a previous extension of the decision path (xgboost `UnwindPath`).
fn unwind_path(path: &mut [PathElement], unique_depth: usize, path_index: usize) {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let d1 = (unique_depth + 1) as f32;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * d1 / ((i + 1) as f32 * one_fraction);
            next_one_portion = tmp - path[i].pweight * zero_fraction * (unique_depth - i) as f32 / d1;
        } else {
            path[i].pweight = (path[i].pweight * d1) / (zero_fraction * (unique_depth - i) as f32);
        }
    }
    for i in path_index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// Path elements handled together by [`leaf_contributions`] (two SSE registers of `f32`).
const LANES: usize = 8;

/// Adds a leaf's share to every feature on the path (the leaf branch of xgboost's `TreeShap`):
/// `phi[f_i] += UnwoundPathSum(i) * (one_i - zero_i) * leaf_value` for `i in 1..=unique_depth`.
///
/// This O(depth²) loop of divisions dominates TreeSHAP, so up to [`LANES`] `UnwoundPathSum`s run
/// side by side in fixed-size arrays the compiler vectorizes. Which formula an element uses
/// depends only on its own fractions, so each formula runs over all lanes (lanes it does not
/// apply to get a dummy 1.0 and are discarded at the end). Every kept lane performs exactly the
/// scalar operations in the scalar order, so results are bit-identical to [`unwound_path_sum`].
fn leaf_contributions(path: &[PathElement], unique_depth: usize, leaf_value: f32, phi: &mut [f32]) {
    let d1 = (unique_depth + 1) as f32;
    let top = path[unique_depth].pweight;
    let mut start = 1;
    while start <= unique_depth {
        let n = LANES.min(unique_depth + 1 - start);
        let mut one = [1.0f32; LANES];
        let mut zero = [1.0f32; LANES];
        for k in 0..n {
            one[k] = path[start + k].one_fraction;
            zero[k] = path[start + k].zero_fraction;
        }
        let any_one = one[..n].iter().any(|&o| o != 0.0);
        let any_zero_only = (0..n).any(|k| one[k] == 0.0 && zero[k] != 0.0);
        // Divisors with the dummy 1.0 substituted where a formula does not apply.
        let one_div = one.map(|o| if o != 0.0 { o } else { 1.0 });
        let zero_div = zero.map(|z| if z != 0.0 { z } else { 1.0 });

        // one_fraction != 0: the chained formula.
        let mut total_one = [0.0f32; LANES];
        if any_one {
            let mut next_one_portion = [top; LANES];
            for i in (0..unique_depth).rev() {
                let pweight = path[i].pweight;
                let ip1 = (i + 1) as f32;
                let scale = (unique_depth - i) as f32 / d1;
                for k in 0..LANES {
                    let tmp = next_one_portion[k] * d1 / (ip1 * one_div[k]);
                    total_one[k] += tmp;
                    next_one_portion[k] = pweight - tmp * zero[k] * scale;
                }
            }
        }
        // one_fraction == 0, zero_fraction != 0: independent terms.
        let mut total_zero = [0.0f32; LANES];
        if any_zero_only {
            for i in (0..unique_depth).rev() {
                let pweight = path[i].pweight;
                let scale = (unique_depth - i) as f32 / d1;
                for k in 0..LANES {
                    total_zero[k] += (pweight / zero_div[k]) / scale;
                }
            }
        }

        for k in 0..n {
            let total = if one[k] != 0.0 {
                total_one[k]
            } else if zero[k] != 0.0 {
                total_zero[k]
            } else {
                0.0
            };
            let el = path[start + k];
            phi[el.feature as usize] += total * (el.one_fraction - el.zero_fraction) * leaf_value;
        }
        start += n;
    }
}

/// Total permutation weight if the extension at `path_index` were unwound, without modifying
/// the path (xgboost `UnwoundPathSum`). Kept as the readable reference for
/// [`leaf_contributions`], which the unit test below holds to bit equality with it.
#[cfg_attr(not(test), allow(dead_code))]
fn unwound_path_sum(path: &[PathElement], unique_depth: usize, path_index: usize) -> f32 {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let mut total = 0.0f32;
    let d1 = (unique_depth + 1) as f32;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = next_one_portion * d1 / ((i + 1) as f32 * one_fraction);
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero_fraction * ((unique_depth - i) as f32 / d1);
        } else if zero_fraction != 0.0 {
            total += (path[i].pweight / zero_fraction) / ((unique_depth - i) as f32 / d1);
        }
        // Both fractions zero: xgboost CHECKs that pweight is 0, i.e. nothing to add.
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar leaf branch of xgboost's `TreeShap`, the reference for `leaf_contributions`.
    fn leaf_contributions_scalar(path: &[PathElement], unique_depth: usize, leaf: f32, phi: &mut [f32]) {
        for i in 1..=unique_depth {
            let w = unwound_path_sum(path, unique_depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * leaf;
        }
    }

    /// Deterministic xorshift, to avoid a `rand` dependency for one test.
    struct Rng(u64);
    impl Rng {
        fn next_f32(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    #[test]
    fn when_leaf_sums_run_in_lanes_should_be_bit_identical_to_the_scalar_reference() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for depth in 0..=20 {
            for _ in 0..50 {
                let mut path = vec![PathElement::default(); depth + 1];
                extend_path(&mut path, 0, 1.0, 1.0, u32::MAX);
                for d in 1..=depth {
                    let zero = match rng.next_f32() {
                        r if r < 0.05 => 0.0,
                        r if r < 0.10 => 1.0,
                        _ => rng.next_f32(),
                    };
                    let one = if rng.next_f32() < 0.5 { 1.0 } else { 0.0 };
                    extend_path(&mut path, d, zero, one, (d - 1) as u32);
                }
                let leaf = rng.next_f32() - 0.5;
                let (mut fast, mut slow) = (vec![0.0f32; depth + 1], vec![0.0f32; depth + 1]);
                leaf_contributions(&path, depth, leaf, &mut fast);
                leaf_contributions_scalar(&path, depth, leaf, &mut slow);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "depth {depth}");
            }
        }
    }

    // --- fast TreeSHAP ----------------------------------------------------------------------

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            ((self.next_f32() * n as f32) as usize).min(n - 1)
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
                let feature = rng.below(features) as u32 | if rng.next_f32() < 0.5 { DEFAULT_LEFT_BIT } else { 0 };
                let threshold = rng.below(4) as f32 + if rng.next_f32() < 0.2 { 0.5 } else { 0.0 };
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
                let feature = rng.below(features) as u32 | if rng.next_f32() < 0.5 { DEFAULT_LEFT_BIT } else { 0 };
                self.nodes[i] = Node { value: rng.below(4) as f32, left: left as u32, feature };
                let inner_side = rng.below(2);
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
            .map(|_| match rng.below(6) {
                0 => f32::NAN,
                1 => rng.below(4) as f32 + 0.5,
                _ => rng.below(5) as f32,
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
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
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
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
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
        let mut rng = Rng(0xdead_beef_cafe_f00d);
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
        let mut rng = Rng(0x0123_4567_89ab_cdef);
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
        forest.push_random(&mut Rng(7), 0, 3, 1.0);
        let fast = forest.fast();
        assert_eq!(fast_phi(&fast, &[1.0, 2.0, 3.0], 3, &mut FastScratch::default()), vec![0.0; 3]);
        let placeholder = FastTreeShap::default();
        assert_eq!(fast_phi(&placeholder, &[1.0], 1, &mut FastScratch::default()), vec![0.0]);
    }
}
