//! A transcription of xgboost's `TreeShap` (`src/predictor/treeshap.cc`, 3.x) restricted to the
//! unconditioned case, in xgboost's `f32` arithmetic and operation order: bit-exact with
//! `predict(..., pred_contribs=True)`. The reference the fast TreeSHAP is tested against
//! (`XgbModel::contributions_reference`); compiled for tests only (feature `test-util`).

use crate::model::xgboost::Node;

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

/// Adds a leaf's share to every feature on the path (the leaf branch of xgboost's `TreeShap`):
/// `phi[f_i] += UnwoundPathSum(i) * (one_i - zero_i) * leaf_value` for `i in 1..=unique_depth`.
fn leaf_contributions(path: &[PathElement], unique_depth: usize, leaf_value: f32, phi: &mut [f32]) {
    for i in 1..=unique_depth {
        let w = unwound_path_sum(path, unique_depth, i);
        let el = path[i];
        phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * leaf_value;
    }
}

/// Total permutation weight if the extension at `path_index` were unwound, without modifying
/// the path (xgboost `UnwoundPathSum`).
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
