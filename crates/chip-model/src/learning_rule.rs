//! Local learning rules: what a rule may see is exactly what lives at one synapse.
//!
//! A rule is handed a [`SynapseLocal`]: the latched activity traces of the synapse's own presynaptic
//! and postsynaptic neuron (one value per trace slot), the synapse's current weight and one global
//! scalar broadcast to the whole synapse group (e.g. η/β). Nothing else — no other neuron, no other
//! synapse, no loss, no gradient — is reachable from the rule's inputs, so no rule can compute a
//! whole-network gradient.

use crate::error::{ChipError, Result};

/// How many trace slots the learning engine latches (e.g. free, nudged +β, nudged −β, spare).
pub const TRACE_SLOTS: usize = 4;

/// Index of one latched trace (a snapshot of neuron activity taken at the end of a phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceSlot(u8);

impl TraceSlot {
    /// A slot index, checked against [`TRACE_SLOTS`].
    pub fn new(index: usize) -> Result<Self> {
        if index < TRACE_SLOTS {
            Ok(Self(index as u8))
        } else {
            Err(ChipError::InvalidConfig(format!(
                "trace slot {index} does not exist; the learning engine has slots 0..{TRACE_SLOTS}"
            )))
        }
    }

    /// The slot index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Everything one synapse can see during a learning update, for one example.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynapseLocal {
    /// Trace of the presynaptic neuron in each slot (1.0 for a bias, whose source is always on).
    pub pre: [f32; TRACE_SLOTS],
    /// Trace of the postsynaptic neuron in each slot.
    pub post: [f32; TRACE_SLOTS],
    /// The synapse's current weight, in real units.
    pub weight: f32,
    /// The group-wide scalar (learning rate over β, a reward, ...).
    pub global: f32,
}

/// A learning rule that computes a synapse's update from its local view only.
pub trait LocalRule {
    /// The weight change (real units) this synapse asks for, for one example.
    fn delta(&self, synapse: &SynapseLocal) -> f64;
}

/// One product term `coefficient · pre[slot] · post[slot]` of a sum-of-products rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProductTerm {
    /// Constant factor.
    pub coefficient: f32,
    /// Presynaptic trace slot, or `None` for the constant 1.
    pub pre: Option<TraceSlot>,
    /// Postsynaptic trace slot, or `None` for the constant 1.
    pub post: Option<TraceSlot>,
}

/// A Loihi-style sum-of-products rule: `Δw = global · Σ_k c_k · pre[a_k] · post[b_k]`.
///
/// This is the form the on-chip learning engine evaluates fast (as matrix products over the batch);
/// any [`LocalRule`] can be run through the engine's generic per-synapse path instead.
#[derive(Debug, Clone, PartialEq)]
pub struct SumOfProducts {
    terms: Vec<ProductTerm>,
}

impl SumOfProducts {
    /// A rule from its terms (at least one, finite coefficients).
    pub fn new(terms: Vec<ProductTerm>) -> Result<Self> {
        if terms.is_empty() {
            return Err(ChipError::InvalidConfig("a learning rule needs at least one term".into()));
        }
        if let Some(t) = terms.iter().find(|t| !t.coefficient.is_finite()) {
            return Err(ChipError::InvalidConfig(format!(
                "learning-rule coefficient {} is not finite",
                t.coefficient
            )));
        }
        Ok(Self { terms })
    }

    /// The contrastive Hebbian rule `pre[plus]·post[plus] − pre[minus]·post[minus]`.
    pub fn contrastive(plus: TraceSlot, minus: TraceSlot) -> Self {
        Self {
            terms: vec![
                ProductTerm { coefficient: 1.0, pre: Some(plus), post: Some(plus) },
                ProductTerm { coefficient: -1.0, pre: Some(minus), post: Some(minus) },
            ],
        }
    }

    /// The terms of the rule.
    pub fn terms(&self) -> &[ProductTerm] {
        &self.terms
    }

    /// The same rule with each constant factor (a term's missing pre or post trace, the real
    /// value 1) multiplied by `pre_one` or `post_one`: for engines that sum rules in trace units
    /// and scale the sums by the trace steps afterwards, where 1 counts as `1/step`.
    pub(crate) fn with_constant_factors(&self, pre_one: f32, post_one: f32) -> Self {
        let terms = self
            .terms
            .iter()
            .map(|t| {
                let pre = if t.pre.is_none() { pre_one } else { 1.0 };
                let post = if t.post.is_none() { post_one } else { 1.0 };
                ProductTerm { coefficient: t.coefficient * pre * post, ..*t }
            })
            .collect();
        Self { terms }
    }
}

impl LocalRule for SumOfProducts {
    fn delta(&self, s: &SynapseLocal) -> f64 {
        let sum: f64 = self
            .terms
            .iter()
            .map(|t| {
                let pre = t.pre.map_or(1.0, |k| f64::from(s.pre[k.index()]));
                let post = t.post.map_or(1.0, |k| f64::from(s.post[k.index()]));
                f64::from(t.coefficient) * pre * post
            })
            .sum();
        f64::from(s.global) * sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrastive_rule_is_difference_of_products() -> Result<()> {
        let rule = SumOfProducts::contrastive(TraceSlot::new(1)?, TraceSlot::new(0)?);
        let s = SynapseLocal {
            pre: [0.5, 1.0, 0.0, 0.0],
            post: [0.25, 0.75, 0.0, 0.0],
            weight: 0.3,
            global: 2.0,
        };
        let expected = 2.0 * (1.0 * 0.75 - 0.5 * 0.25);
        assert!((rule.delta(&s) - expected).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn slots_and_terms_are_checked() {
        assert!(TraceSlot::new(TRACE_SLOTS).is_err());
        assert!(SumOfProducts::new(vec![]).is_err());
        let nan = ProductTerm { coefficient: f32::NAN, pre: None, post: None };
        assert!(SumOfProducts::new(vec![nan]).is_err());
    }
}
