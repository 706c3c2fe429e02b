//! Pure-Rust evaluator for XGBoost `binary:logistic` tree models (xgboost 3.x JSON / UBJSON).
//!
//! Why our own evaluator: scoring must run without the C++ library, we need exact TreeSHAP
//! contributions next to the score, and missing-value routing must be under our control.
//!
//! Parity with Python xgboost is the contract (see `tests/xgboost_parity.rs`), so the arithmetic
//! deliberately mirrors xgboost's CPU predictor rather than what would be "nicer":
//! * thresholds and leaf values are `f32`; a node sends a row left iff `value < threshold`, and a
//!   missing value (NaN, or a feature index beyond the row) follows the node's default direction;
//! * the margin starts at the base margin and adds each tree's leaf value in tree order, in `f32`;
//! * the base margin is `-ln(1/base_score - 1)` computed in `f32`, because xgboost 3.x stores
//!   `base_score` as a probability for logistic objectives;
//! * the probability is xgboost's `Sigmoid` (`1 / (1 + exp(min(-x, 88.7)))` in `f32`).
//!
//! Speed: trees are flattened into one contiguous array of 12-byte nodes with siblings adjacent.
//! A single tree walk is a chain of dependent loads, so scoring walks [`LOCKSTEP`] trees at once
//! with a branch-free step; leaves point to themselves, which lets every walk in a group run the
//! same number of steps and the CPU overlap the independent chains.

use std::cell::RefCell;
use std::collections::VecDeque;

use serde::Deserialize;
use serde_json::Value;

use super::treeshap::{FastScratch, FastTreeShap};

/// Deepest tree we accept. TreeSHAP needs O(depth²) scratch and recursion depth `depth`, so an
/// absurd depth from a corrupt file must become an error instead of a stack overflow.
pub const MAX_TREE_DEPTH: usize = 128;

/// Bit of [`Node::feature`] that stores "missing values go left"; the feature index uses the rest.
pub(crate) const DEFAULT_LEFT_BIT: u32 = 1 << 31;

/// [`Node::feature`] of a leaf: an index beyond any row (so the value reads as missing) with the
/// default direction left, so a step from a leaf lands on `left`, the leaf itself.
pub(crate) const LEAF_FEATURE: u32 = u32::MAX;

/// Number of trees walked together by the scorer (enough to hide load latency, few enough to
/// keep the node indices in registers).
pub const LOCKSTEP: usize = 8;

/// Errors from loading a model. Evaluation itself cannot fail once a model is loaded. The
/// message carries its cause (the Lambdas log the message alone), so no variant has a `source`:
/// an error chain would print the cause twice.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not valid JSON, or a field has the wrong JSON type.
    #[error("model JSON is malformed: {0}")]
    Json(serde_json::Error),
    /// The bytes are not valid UBJSON (the subset xgboost writes).
    #[error("model UBJSON is malformed at byte {offset}: {message}")]
    Ubj { offset: usize, message: String },
    /// A well-formed model of a kind this evaluator does not implement (objective, booster, ...).
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A model that is structurally inconsistent (bad indices, cycles, mismatched arrays, ...).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// A model too large for the TreeSHAP tables.
    #[error("unsupported model: {0}")]
    TooLarge(super::treeshap::TooLarge),
}

impl From<serde_json::Error> for ModelError {
    fn from(e: serde_json::Error) -> Self {
        ModelError::Json(e)
    }
}

impl From<super::treeshap::TooLarge> for ModelError {
    fn from(e: super::treeshap::TooLarge) -> Self {
        ModelError::TooLarge(e)
    }
}

/// One flattened tree node. 12 bytes, so a depth-6 tree (127 nodes) is ~1.5 KiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    /// Split threshold for an inner node; the leaf value (already scaled by the learning rate)
    /// for a leaf. xgboost keeps both in `split_conditions`; `base_weights` is not the leaf
    /// value in general (e.g. after `refresh`/`prune` updaters), so it is not used.
    pub(crate) value: f32,
    /// Global index of the left child; the right child is `left + 1`. A leaf points to itself.
    pub(crate) left: u32,
    /// Split feature index, with [`DEFAULT_LEFT_BIT`] set when missing values go left;
    /// [`LEAF_FEATURE`] for a leaf.
    pub(crate) feature: u32,
}

impl Node {
    fn leaf(index: usize, value: f32) -> Node {
        Node { value, left: index as u32, feature: LEAF_FEATURE }
    }

    #[inline(always)]
    pub(crate) fn is_leaf(self) -> bool {
        self.feature == LEAF_FEATURE
    }

    #[inline(always)]
    pub(crate) fn feature_index(self) -> usize {
        (self.feature & !DEFAULT_LEFT_BIT) as usize
    }

    #[inline(always)]
    pub(crate) fn default_left(self) -> bool {
        self.feature & DEFAULT_LEFT_BIT != 0
    }

    /// Index of the child a row takes at this inner node (xgboost's `GetNextNode`); a leaf
    /// returns its own index, provided `row.len() <= i32::MAX`.
    #[inline(always)]
    pub(crate) fn next(self, row: &[f32]) -> usize {
        let x = feature_value(row, self.feature_index());
        // Branch-free: NaN compares false, so it goes left only if that is the default.
        let go_left = (x < self.value) | (x.is_nan() & self.default_left());
        self.left as usize + usize::from(!go_left)
    }
}

/// Feature `f` of `row`; features beyond the row are missing, like absent entries in a sparse
/// xgboost matrix.
#[inline(always)]
pub(crate) fn feature_value(row: &[f32], f: usize) -> f32 {
    match row.get(f) {
        Some(&x) => x,
        None => f32::NAN,
    }
}

/// Per-tree data besides the nodes.
#[derive(Debug, Clone, Copy)]
struct TreeMeta {
    /// Depth of the deepest leaf (root = 0): the number of steps that reach every leaf.
    depth: usize,
    /// Cover-weighted mean leaf value of the tree, computed exactly like xgboost's
    /// `FillNodeMeanValues` (it is the tree's share of the SHAP bias term).
    expected_value: f32,
}

/// An XGBoost `binary:logistic` / `reg:logistic` gbtree model, ready for scoring.
///
/// Immutable after loading, hence `Send + Sync`; share it with `Arc`.
#[derive(Debug, Clone)]
pub struct XgbModel {
    nodes: Vec<Node>,
    /// `sum_hessian` (cover) per node, parallel to `nodes`; only TreeSHAP needs it, so it is
    /// kept out of the hot prediction nodes.
    covers: Vec<f32>,
    roots: Vec<u32>,
    trees: Vec<TreeMeta>,
    /// Deepest tree of each run of [`LOCKSTEP`] consecutive trees (the last run may be short).
    group_depths: Vec<usize>,
    num_features: usize,
    feature_names: Option<Vec<String>>,
    base_margin: f32,
    /// Precomputed per-node data of the fast TreeSHAP behind [`XgbModel::contributions`].
    fast_shap: FastTreeShap,
    /// The SHAP bias: the trees' expected values summed in tree order in `f32`, then the base
    /// margin, exactly as xgboost (and the reference) accumulate it. Row-independent.
    shap_bias: f32,
}

/// Reusable TreeSHAP scratch, one per thread, so `contributions` does not allocate per call.
#[derive(Default)]
struct ShapScratch {
    /// Sweep buffers and the `f64` per-feature totals.
    fast: FastScratch,
    phi: Vec<f64>,
}

thread_local! {
    static SHAP_SCRATCH: RefCell<ShapScratch> = RefCell::new(ShapScratch::default());
}

impl XgbModel {
    /// Loads a model written by `booster.save_model("model.json")`.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, ModelError> {
        let value: Value = serde_json::from_slice(bytes)?;
        Self::from_value(&value)
    }

    /// Loads a model written by `booster.save_model("model.ubj")` (xgboost's UBJSON encoding).
    pub fn from_ubj_slice(bytes: &[u8]) -> Result<Self, ModelError> {
        let value = super::ubj::parse(bytes)?;
        Self::from_value(&value)
    }

    /// Number of input features a row is expected to have (`learner_model_param.num_feature`).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Number of trees in the ensemble.
    pub fn num_trees(&self) -> usize {
        self.roots.len()
    }

    /// xgboost's `total_cover` importance: per feature, the summed cover (training rows,
    /// hessian-weighted) of the splits on it.
    pub fn total_cover(&self) -> Vec<f64> {
        let mut cover = vec![0.0; self.num_features];
        for (node, c) in self.nodes.iter().zip(&self.covers) {
            if !node.is_leaf()
                && let Some(total) = cover.get_mut(node.feature_index())
            {
                *total += f64::from(*c);
            }
        }
        cover
    }

    /// Feature names stored in the model (`learner.feature_names`), if it was trained with them.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// The margin every prediction starts from: logit of `base_score` (computed in `f32`, as
    /// xgboost does, then widened).
    pub fn base_margin(&self) -> f64 {
        f64::from(self.base_margin)
    }

    /// Raw margin (log-odds) for one row. NaN means missing; features beyond `row.len()` are
    /// missing too, extra trailing values are ignored.
    pub fn predict_margin(&self, row: &[f32]) -> f32 {
        // Leaves rely on their feature index being past the row; features past num_features are
        // never split on anyway.
        let row = &row[..row.len().min(self.num_features)];
        let mut margin = self.base_margin;
        let mut groups = self.roots.chunks_exact(LOCKSTEP);
        for (roots, &depth) in (&mut groups).zip(&self.group_depths) {
            let mut idx = [0usize; LOCKSTEP];
            for (i, &root) in idx.iter_mut().zip(roots) {
                *i = root as usize;
            }
            for _ in 0..depth {
                for i in &mut idx {
                    *i = self.nodes[*i].next(row);
                }
            }
            // Tree order, like xgboost, so the f32 sum is bit-identical.
            for &i in &idx {
                margin += self.nodes[i].value;
            }
        }
        for &root in groups.remainder() {
            margin += self.leaf_value(root as usize, row);
        }
        margin
    }

    /// Probability of the positive class for one row (`sigmoid(predict_margin(row))`).
    pub fn predict_proba(&self, row: &[f32]) -> f32 {
        sigmoid(self.predict_margin(row))
    }

    /// Probabilities for row-major `rows` with `num_features()` values per row. `out` is cleared
    /// and receives one value per complete row; a trailing partial row is ignored.
    pub fn predict_proba_batch(&self, rows: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(rows.chunks_exact(self.num_features).map(|row| self.predict_proba(row)));
    }

    /// Exact path-dependent TreeSHAP: the values of xgboost `predict(..., pred_contribs=True)`.
    ///
    /// Writes `num_features() + 1` values: one per feature, then the bias (base margin plus the
    /// trees' expected values). They sum to `predict_margin(row)` up to `f32` rounding.
    ///
    /// Computed in `f64` by the quadrature TreeSHAP of [`treeshap`] (O(nodes · depth/2) per tree
    /// instead of xgboost's O(leaves · depth²)), so feature values differ from xgboost's `f32`
    /// results only by xgboost's own rounding (≪ 1e-5); the bias is bit-identical.
    ///
    /// # Panics
    /// If `out.len() != num_features() + 1` (a caller bug, not a data condition).
    pub fn contributions(&self, row: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), self.num_features + 1, "contributions: out must hold num_features + 1 values");
        SHAP_SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.fast_contributions_with(row, out, &mut scratch),
            // Only reachable through re-entrancy, which nothing here does; stay panic-free.
            Err(_) => self.fast_contributions_with(row, out, &mut ShapScratch::default()),
        });
    }

    fn fast_contributions_with(&self, row: &[f32], out: &mut [f32], scratch: &mut ShapScratch) {
        let ShapScratch { fast, phi, .. } = scratch;
        phi.clear();
        phi.resize(self.num_features, 0.0);
        self.fast_shap.add_contributions(row, fast, phi);
        for (o, &v) in out.iter_mut().zip(phi.iter()) {
            *o = v as f32;
        }
        out[self.num_features] = self.shap_bias;
    }

    /// The same values as [`XgbModel::contributions`] from a transcription of xgboost's own
    /// TreeSHAP recursion, bit-exact with xgboost but ~11× slower: the reference the fast path is
    /// tested against (tests and feature `test-util` only).
    ///
    /// # Panics
    /// If `out.len() != num_features() + 1`.
    #[cfg(any(test, feature = "test-util"))]
    pub fn contributions_reference(&self, row: &[f32], out: &mut [f32]) {
        use super::treeshap::reference::{PathElement, path_buffer_len, tree_shap};
        assert_eq!(out.len(), self.num_features + 1, "contributions: out must hold num_features + 1 values");
        let max_depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let mut path = vec![PathElement::default(); path_buffer_len(max_depth)];
        let mut tree_phi = vec![0.0f32; self.num_features + 1];
        out.fill(0.0);
        let bias = self.num_features;
        // Same accumulation as xgboost: each tree into a zeroed buffer, then added to the total;
        // the base margin joins the bias last.
        for (&root, meta) in self.roots.iter().zip(&self.trees) {
            tree_phi.fill(0.0);
            tree_phi[bias] += meta.expected_value;
            tree_shap(&self.nodes, &self.covers, root as usize, row, &mut path, &mut tree_phi);
            for (total, &v) in out.iter_mut().zip(tree_phi.iter()) {
                *total += v;
            }
        }
        out[bias] += self.base_margin;
    }

    /// Walks one tree until its leaf (used for the trees left over after the lockstep groups).
    #[inline(always)]
    fn leaf_value(&self, mut idx: usize, row: &[f32]) -> f32 {
        loop {
            let node = self.nodes[idx];
            if node.is_leaf() {
                return node.value;
            }
            idx = node.next(row);
        }
    }

    fn from_value(root: &Value) -> Result<Self, ModelError> {
        let learner = field(root, "learner")?;

        let objective = field(field(learner, "objective")?, "name")?
            .as_str()
            .ok_or_else(|| invalid("learner.objective.name is not a string"))?;
        if !matches!(objective, "binary:logistic" | "reg:logistic") {
            return Err(ModelError::Unsupported(format!(
                "objective {objective:?} (only binary:logistic and reg:logistic)"
            )));
        }

        let params = field(learner, "learner_model_param")?;
        let num_features =
            param_usize(params, "num_feature")?.ok_or_else(|| invalid("learner_model_param.num_feature is missing"))?;
        if num_features == 0 || num_features >= DEFAULT_LEFT_BIT as usize {
            return Err(invalid(format!("num_feature {num_features} is out of range")));
        }
        if let Some(n) = param_usize(params, "num_class")?
            && n > 1
        {
            return Err(ModelError::Unsupported(format!("num_class {n} (multi-class)")));
        }
        if let Some(n) = param_usize(params, "num_target")?
            && n > 1
        {
            return Err(ModelError::Unsupported(format!("num_target {n} (multi-target)")));
        }
        let base_score = match params.get("base_score") {
            Some(v) => parse_base_score(v)?,
            None => 0.5,
        };
        if base_score.is_nan() || base_score <= 0.0 || base_score >= 1.0 {
            return Err(invalid(format!(
                "base_score {base_score} must be a probability in (0, 1) for a logistic objective"
            )));
        }
        // xgboost's LogisticRegression::ProbToMargin, in f32.
        let base_margin = -(1.0f32 / base_score - 1.0).ln();

        let feature_names = parse_feature_names(learner, num_features)?;
        if let Some(types) = learner.get("feature_types").and_then(Value::as_array)
            && types.iter().any(|t| t.as_str() == Some("c"))
        {
            return Err(ModelError::Unsupported("categorical features".into()));
        }

        let booster = field(learner, "gradient_booster")?;
        let booster_name = field(booster, "name")?.as_str().unwrap_or("?");
        if booster_name != "gbtree" {
            return Err(ModelError::Unsupported(format!("gradient_booster {booster_name:?} (only gbtree)")));
        }
        let gbtree = field(booster, "model")?;
        let raw_trees = field(gbtree, "trees")?
            .as_array()
            .ok_or_else(|| invalid("gradient_booster.model.trees is not an array"))?;
        if raw_trees.is_empty() {
            return Err(invalid("model has no trees"));
        }
        let tree_info: Vec<i64> = deserialize_at(field(gbtree, "tree_info")?, "tree_info")?;
        if tree_info.len() != raw_trees.len() {
            return Err(invalid(format!("tree_info has {} entries for {} trees", tree_info.len(), raw_trees.len())));
        }
        if let Some(group) = tree_info.iter().find(|&&g| g != 0) {
            return Err(ModelError::Unsupported(format!("tree output group {group} (only a single output group)")));
        }

        let mut model = XgbModel {
            nodes: Vec::new(),
            covers: Vec::new(),
            roots: Vec::with_capacity(raw_trees.len()),
            trees: Vec::with_capacity(raw_trees.len()),
            group_depths: Vec::new(),
            num_features,
            feature_names,
            base_margin,
            fast_shap: FastTreeShap::default(),
            shap_bias: 0.0,
        };
        for (i, raw) in raw_trees.iter().enumerate() {
            let raw: RawTree = deserialize_at(raw, &format!("trees[{i}]"))?;
            model.push_tree(i, &raw)?;
        }
        model.group_depths =
            (model.trees.chunks(LOCKSTEP)).map(|group| group.iter().map(|t| t.depth).max().unwrap_or(0)).collect();
        let max_depth = model.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        model.fast_shap = FastTreeShap::new(&model.nodes, &model.covers, &model.roots, max_depth)?;
        // The reference's order: 0 + each tree's expected value, then the base margin.
        model.shap_bias = model.trees.iter().fold(0.0f32, |acc, t| acc + t.expected_value) + model.base_margin;
        Ok(model)
    }

    /// Validates one tree and appends it breadth-first, siblings adjacent.
    fn push_tree(&mut self, tree: usize, raw: &RawTree) -> Result<(), ModelError> {
        let n = raw.left_children.len();
        let err = |msg: String| invalid(format!("trees[{tree}]: {msg}"));
        if n == 0 {
            return Err(err("has no nodes".into()));
        }
        let lengths = [
            ("right_children", raw.right_children.len()),
            ("split_indices", raw.split_indices.len()),
            ("split_conditions", raw.split_conditions.len()),
            ("default_left", raw.default_left.len()),
            ("sum_hessian", raw.sum_hessian.len()),
        ];
        for (name, len) in lengths {
            if len != n {
                return Err(err(format!("{name} has {len} entries, left_children has {n}")));
            }
        }
        // Older writers omit split_type when every split is numerical.
        if !raw.split_type.is_empty() && raw.split_type.len() != n {
            return Err(err(format!("split_type has {} entries for {n} nodes", raw.split_type.len())));
        }
        if self.nodes.len() + n >= u32::MAX as usize {
            return Err(invalid("model has too many nodes"));
        }

        let root = self.nodes.len();
        self.nodes.push(Node::leaf(root, 0.0));
        self.covers.push(0.0);
        let mut seen = vec![false; n];
        seen[0] = true;
        let mut queue = VecDeque::from([(0usize, root, 0usize)]);
        let mut depth = 0;
        while let Some((old, new, node_depth)) = queue.pop_front() {
            depth = depth.max(node_depth);
            if node_depth > MAX_TREE_DEPTH {
                return Err(ModelError::Unsupported(format!("trees[{tree}] is deeper than {MAX_TREE_DEPTH}")));
            }
            let cover = raw.sum_hessian[old];
            // TreeSHAP divides by covers; xgboost never writes a negative or NaN one.
            if cover.is_nan() || cover < 0.0 {
                return Err(err(format!("node {old} has cover {cover}")));
            }
            self.covers[new] = cover;
            let (left, right) = (raw.left_children[old], raw.right_children[old]);
            if left == -1 {
                if right != -1 {
                    return Err(err(format!("node {old} has only a right child")));
                }
                self.nodes[new] = Node::leaf(new, raw.split_conditions[old]);
                continue;
            }
            if raw.split_type.get(old).is_some_and(|&t| t != 0) {
                return Err(ModelError::Unsupported(format!("trees[{tree}] node {old} is a categorical split")));
            }
            let mut child = |c: i64| -> Result<usize, ModelError> {
                match usize::try_from(c) {
                    Ok(c) if c < n && !seen[c] => {
                        seen[c] = true;
                        Ok(c)
                    }
                    _ => Err(err(format!("node {old} has invalid or repeated child {c}"))),
                }
            };
            let (left, right) = (child(left)?, child(right)?);
            let feature = raw.split_indices[old];
            if feature >= self.num_features as u64 {
                return Err(err(format!("node {old} splits on feature {feature}, model has {}", self.num_features)));
            }
            let threshold = raw.split_conditions[old];
            if threshold.is_nan() {
                return Err(err(format!("node {old} has a NaN threshold")));
            }
            let first_child = self.nodes.len();
            self.nodes.extend([Node::leaf(first_child, 0.0), Node::leaf(first_child + 1, 0.0)]);
            self.covers.extend([0.0; 2]);
            let default_left = if raw.default_left[old].0 { DEFAULT_LEFT_BIT } else { 0 };
            self.nodes[new] =
                Node { value: threshold, left: first_child as u32, feature: feature as u32 | default_left };
            queue.push_back((left, first_child, node_depth + 1));
            queue.push_back((right, first_child + 1, node_depth + 1));
        }
        self.roots.push(root as u32);
        let expected_value = mean_value(&self.nodes, &self.covers, root);
        self.trees.push(TreeMeta { depth, expected_value });
        Ok(())
    }
}

/// Cover-weighted mean of the leaves under `idx`, in xgboost's `FillNodeMeanValues` order.
/// Recursion depth is bounded by [`MAX_TREE_DEPTH`].
fn mean_value(nodes: &[Node], covers: &[f32], idx: usize) -> f32 {
    let node = nodes[idx];
    if node.is_leaf() {
        return node.value;
    }
    let (left, right) = (node.left as usize, node.left as usize + 1);
    let mut result = mean_value(nodes, covers, left) * covers[left];
    result += mean_value(nodes, covers, right) * covers[right];
    result / covers[idx]
}

/// xgboost's `common::Sigmoid` for `f32`.
#[inline]
fn sigmoid(margin: f32) -> f32 {
    1.0 / ((-margin).min(88.7).exp() + 1.0)
}

/// The per-tree arrays we use from xgboost's JSON tree; everything else is ignored.
#[derive(Deserialize)]
struct RawTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<u64>,
    split_conditions: Vec<f32>,
    default_left: Vec<Flag>,
    sum_hessian: Vec<f32>,
    #[serde(default)]
    split_type: Vec<u8>,
}

/// `default_left` is `0`/`1` in current xgboost and was `true`/`false` in early JSON models.
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Bool(bool),
            Int(u8),
        }
        match Repr::deserialize(d)? {
            Repr::Bool(b) => Ok(Flag(b)),
            Repr::Int(i) => Ok(Flag(i != 0)),
        }
    }
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ModelError> {
    v.get(name).ok_or_else(|| invalid(format!("missing field {name:?}")))
}

/// Typed deserialization of a sub-tree, naming the failing path in the error.
fn deserialize_at<'a, T: Deserialize<'a>>(v: &'a Value, at: &str) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(v).map_err(|e| invalid(format!("{at}.{}: {}", e.path(), e.inner())))
}

/// xgboost stores integer params as strings ("10"); accept plain numbers too.
fn param_usize(params: &Value, name: &str) -> Result<Option<usize>, ModelError> {
    let bad = || invalid(format!("learner_model_param.{name} is not a non-negative integer"));
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()).map(Some).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// `base_score` is "[4.2265E-1]" in xgboost 3.x (a vector, one value per target), "5E-1" in
/// 2.x, and may be a plain number. Parsed straight to `f32` so the value is bit-exact.
fn parse_base_score(v: &Value) -> Result<f32, ModelError> {
    let bad = || invalid(format!("learner_model_param.base_score {v} is not a single number"));
    match v {
        Value::Number(n) => n.as_f64().map(|x| x as f32).ok_or_else(bad),
        Value::String(s) => {
            let s = s.trim();
            let inner = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(s);
            let mut parts = inner.split(',');
            let first = parts.next().ok_or_else(bad)?;
            if parts.next().is_some() {
                return Err(ModelError::Unsupported("base_score with several targets".into()));
            }
            first.trim().parse::<f32>().map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn parse_feature_names(learner: &Value, num_features: usize) -> Result<Option<Vec<String>>, ModelError> {
    let names: Vec<String> = match learner.get("feature_names") {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => deserialize_at(v, "learner.feature_names")?,
    };
    if names.is_empty() {
        return Ok(None);
    }
    if names.len() != num_features {
        return Err(invalid(format!("learner.feature_names has {} names for {num_features} features", names.len())));
    }
    Ok(Some(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 56 bytes per inner node (about half the nodes) plus the `1 / f_p` blocks of repeated
    /// features: well under the 16 bytes per node scoring needs, times three.
    #[test]
    fn when_fixture_is_loaded_should_keep_the_treeshap_tables_small() {
        let model = XgbModel::from_json_slice(include_bytes!("../../tests/fixtures/xgb_small/model.json")).unwrap();
        let per_node = model.fast_shap.heap_bytes() as f64 / model.nodes.len() as f64;
        assert!(per_node < 48.0, "{per_node} bytes per node");
    }
}
