//! The learning engine's kind-neutral part: latched traces and the rule's sums over the batch.
//!
//! A sum-of-products rule `Σ_k c_k · pre_k · post_k` is summed over the examples of the batch as
//! matrix products (one per distinct presynaptic trace); a generic [`LocalRule`] is evaluated one
//! synapse at a time from a [`SynapseLocal`] (the reference path). How a summed update lands in the
//! weights (exactly, rounded to mantissa steps, or as device pulses) is the core kind's business
//! (`cores/`).

use ndarray::{Array2, ArrayView2, Axis, Zip};

use crate::cores::Fabric;
use crate::learning_rule::{LocalRule, ProductTerm, SumOfProducts, SynapseLocal, TRACE_SLOTS, TraceSlot};
use crate::parallel::{column_gemm, column_gemm_zeroed};
use crate::population::{Population, PopulationId, Trace};

/// Where a learned update lands.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SumTarget {
    /// The weights of synapse group `g`.
    Group(usize),
    /// The biases of population `p`.
    Bias(usize),
}

/// A latched trace's slot and the activity version it holds.
type TraceKey = (TraceSlot, u64);

/// A latched trace (checked to exist before any learning call gets here).
pub(crate) fn trace(populations: &[Population], pop: PopulationId, slot: TraceSlot) -> &Trace {
    populations[pop.0].traces[slot.index()].as_ref().unwrap_or_else(|| unreachable!("trace slot checked"))
}

/// The post side of one of a rule's products: a latched trace times ±1 (one term: read in place,
/// no copy) or a combination of several terms built as a batch × post matrix.
#[derive(Debug)]
pub(crate) enum PostFactor {
    /// `alpha` (1 or −1) times the post population's trace in `slot`.
    Trace { slot: TraceSlot, alpha: f32 },
    /// `Σ_k c_k · post_k` (batch × post).
    Built(Array2<f32>),
}

/// One of a rule's products: Σ over the batch of `pre(slot)ᵀ · post factor`, with the constant 1
/// as presynaptic factor when `pre` is `None`.
#[derive(Debug)]
pub(crate) struct Factor {
    /// The presynaptic trace slot (`None`: the constant 1).
    pub pre: Option<TraceSlot>,
    /// The post side.
    pub post: PostFactor,
}

impl Factor {
    /// The post side as `alpha · m` (`m` batch × post): multiplying a product by `alpha` (±1)
    /// gives the same numbers as multiplying the matrix, since negation is exact.
    pub fn post_side<'a>(
        &'a self,
        populations: &'a [Population],
        post: PopulationId,
    ) -> (f32, ArrayView2<'a, f32>) {
        match &self.post {
            PostFactor::Trace { slot, alpha } => (*alpha, trace(populations, post, *slot).data.view()),
            PostFactor::Built(m) => (1.0, m.view()),
        }
    }
}

/// The rule's terms grouped by presynaptic data: for each distinct presynaptic trace (or the
/// constant 1, `None`), the post side `Σ_k c_k · post_k` (batch × post) of the terms that use it.
/// Terms whose presynaptic traces hold the same data (same activity version) share one product.
/// A group of one term with coefficient ±1 (the contrastive rules' case) reads its post trace in
/// place; building its matrix was a serial pass of batch × post per term at every update.
pub(crate) fn sop_factors(
    net: &Fabric<'_>,
    rule: &SumOfProducts,
    pre: Option<PopulationId>,
    post: PopulationId,
) -> Vec<Factor> {
    let pops = &*net.populations;
    let n_post = pops[post.0].size;
    let key_of = |slot: Option<TraceSlot>| match (pre, slot) {
        (Some(p), Some(k)) => Some((k, trace(pops, p, k).version)),
        _ => None,
    };
    let mut grouped: Vec<(Option<TraceKey>, Vec<&ProductTerm>)> = Vec::new();
    for t in rule.terms() {
        let key = key_of(t.pre);
        let same = |k: &Option<TraceKey>| k.map(|y| y.1) == key.map(|y| y.1);
        match grouped.iter_mut().find(|(k, _)| same(k)) {
            Some((_, terms)) => terms.push(t),
            None => grouped.push((key, vec![t])),
        }
    }
    grouped
        .into_iter()
        .map(|(key, terms)| {
            let post = match terms[..] {
                [&ProductTerm { post: Some(slot), coefficient, .. }] if coefficient.abs() == 1.0 => {
                    PostFactor::Trace { slot, alpha: coefficient }
                }
                _ => PostFactor::Built(combine_post_terms(pops, post, &terms, (net.batch, n_post))),
            };
            Factor { pre: key.map(|y| y.0), post }
        })
        .collect()
}

/// `Σ_k c_k · post_k` (batch × post) of `terms`, in one pass a row at a time: each entry is
/// `((0 + c_1·x_1) + c_2·x_2) + …` in the terms' order (a constant factor adds `c_k`), the numbers of
/// adding the terms one whole matrix after another, without writing and reading the matrix once
/// per term.
fn combine_post_terms(
    pops: &[Population],
    post: PopulationId,
    terms: &[&ProductTerm],
    (batch, n): (usize, usize),
) -> Array2<f32> {
    let mut m = Array2::<f32>::zeros((batch, n));
    for (r, mut row) in m.rows_mut().into_iter().enumerate() {
        for t in terms {
            let c = t.coefficient;
            match t.post {
                Some(k) => {
                    Zip::from(&mut row).and(trace(pops, post, k).data.row(r)).for_each(|o, &v| *o += c * v)
                }
                None => row.iter_mut().for_each(|o| *o += c),
            }
        }
    }
    m
}

/// Each synapse group's pre × post buffer for its summed updates, kept between updates: one
/// shared buffer was reallocated (and zeroed, or page-faulted) whenever groups of different shapes
/// learned in turn. Buffers hold no state, so a clone of a chip starts without them.
#[derive(Debug, Default)]
pub(crate) struct UpdateBuffers(Vec<Array2<f32>>);

impl Clone for UpdateBuffers {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl UpdateBuffers {
    /// Group `g`'s buffer (empty the first time).
    pub fn take(&mut self, g: usize) -> Array2<f32> {
        self.0.get_mut(g).map(std::mem::take).unwrap_or_else(|| Array2::zeros((0, 0)))
    }

    /// Keeps `buffer` as group `g`'s buffer.
    pub fn put(&mut self, g: usize, buffer: Array2<f32>) {
        if self.0.len() <= g {
            self.0.resize_with(g + 1, || Array2::zeros((0, 0)));
        }
        self.0[g] = buffer;
    }
}

/// Σ over the batch of Σ_k c_k·pre_k·post_k (pre × post, trace units) into `delta`, reusing its
/// memory when it has the right shape.
pub(crate) fn sop_sum_float_into(
    net: &Fabric<'_>,
    rule: &SumOfProducts,
    pre: Option<PopulationId>,
    post: PopulationId,
    delta: &mut Array2<f32>,
) {
    sum_factors_into(net, &sop_factors(net, rule, pre, post), pre, post, delta);
}

/// [`sop_sum_float_into`] from the rule's factors (as [`sop_factors`] gives them).
pub(crate) fn sum_factors_into(
    net: &Fabric<'_>,
    factors: &[Factor],
    pre: Option<PopulationId>,
    post: PopulationId,
    delta: &mut Array2<f32>,
) {
    let n_post = net.populations[post.0].size;
    let n_pre = pre.map_or(1, |p| net.populations[p.0].size);
    // Zeroed when allocated, else by the first product (each thread its own columns), or below.
    let mut zeroed = delta.dim() != (n_pre, n_post);
    if zeroed {
        *delta = Array2::zeros((n_pre, n_post));
    }
    for f in factors {
        let (alpha, m) = f.post_side(net.populations, post);
        match (pre, f.pre) {
            (Some(p), Some(k)) => {
                let a = &trace(net.populations, p, k).data;
                if zeroed {
                    column_gemm(net.threads, alpha, a.t(), m, 1.0, delta.view_mut());
                } else {
                    column_gemm_zeroed(net.threads, alpha, a.t(), m, delta.view_mut());
                    zeroed = true;
                }
            }
            _ => {
                if !zeroed {
                    delta.fill(0.0);
                    zeroed = true;
                }
                let sums = m.sum_axis(Axis(0)) * alpha;
                for mut row in delta.axis_iter_mut(Axis(0)) {
                    row += &sums;
                }
            }
        }
    }
    if !zeroed {
        delta.fill(0.0);
    }
}

/// Σ over the batch of `rule.delta(synapse)` for every synapse, one at a time (real units): the
/// generic path. `lsb` converts the (pre, post) traces to real units; `weights` are the synapses'
/// weights (1 × post for biases).
pub(crate) fn local_sum(
    pops: &[Population],
    batch: usize,
    rule: &dyn LocalRule,
    (pre, post): (Option<PopulationId>, PopulationId),
    weights: Option<&Array2<f32>>,
    global: f32,
    (lsb_pre, lsb_post): (f32, f32),
) -> Array2<f64> {
    let n_post = pops[post.0].size;
    let n_pre = pre.map_or(1, |p| pops[p.0].size);
    let slot_data = |p: PopulationId| -> Vec<Option<&Array2<f32>>> {
        (0..TRACE_SLOTS).map(|k| pops[p.0].traces[k].as_ref().map(|t| &*t.data)).collect()
    };
    let post_traces = slot_data(post);
    let pre_traces = pre.map(slot_data);
    let mut out = Array2::<f64>::zeros((n_pre, n_post));
    for j in 0..n_pre {
        for i in 0..n_post {
            let weight = weights.map_or(0.0, |w| if pre.is_some() { w[[j, i]] } else { w[[0, i]] });
            let mut sum = 0.0f64;
            for b in 0..batch {
                let mut local =
                    SynapseLocal { pre: [1.0; TRACE_SLOTS], post: [0.0; TRACE_SLOTS], weight, global };
                for k in 0..TRACE_SLOTS {
                    if let Some(t) = post_traces[k] {
                        local.post[k] = t[[b, i]] * lsb_post;
                    }
                    if let Some(pt) = &pre_traces {
                        local.pre[k] = pt[k].map_or(0.0, |t| t[[b, j]] * lsb_pre);
                    }
                }
                sum += rule.delta(&local);
            }
            out[[j, i]] = sum;
        }
    }
    out
}

/// True if every value is +0 or −0: an OR over the bits without the sign in chunks of 64, which
/// vectorises, with an early exit between chunks (a scalar compare per value is slow on the many
/// all-zero rows of online learning; a whole-row pass is slow on the rows that are not).
pub(crate) fn all_zero(xs: &[f32]) -> bool {
    xs.chunks(64).all(|c| c.iter().fold(0u32, |acc, &x| acc | (x.to_bits() << 1)) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_keeps_its_own_buffer_and_clones_start_empty() {
        let mut buffers = UpdateBuffers::default();
        assert_eq!(buffers.take(3).dim(), (0, 0));
        buffers.put(3, Array2::ones((784, 50)));
        buffers.put(0, Array2::ones((50, 10)));
        assert_eq!(buffers.clone().take(3).dim(), (0, 0));
        assert_eq!(buffers.take(3).dim(), (784, 50));
        assert_eq!(buffers.take(0).dim(), (50, 10));
        assert_eq!(buffers.take(0).dim(), (0, 0), "a taken buffer is gone until put back");
    }
}
