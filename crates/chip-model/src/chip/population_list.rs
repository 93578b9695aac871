//! The chip's populations, counting every change made to them outside a run's row shards, so that
//! the shards of one run can carry on into the next when nothing changed in between.
//!
//! Every mutable use of the list goes through [`DerefMut`], which counts a change: the compiler
//! sees to it that no code path can alter a state, an activity, a bias or a constant drive without
//! it. Latching a trace is the one mutation that does not count (shards do not copy traces).

use std::ops::{Deref, DerefMut};

use crate::population::{Population, Trace};

/// The chip's populations in allocation order, with a count of mutable accesses.
#[derive(Debug, Clone, Default)]
pub(crate) struct PopulationList {
    list: Vec<Population>,
    changes: u64,
}

impl PopulationList {
    /// How many times the list was borrowed mutably so far: equal counts mean that nothing in any
    /// population changed in between (a borrow that changed nothing still counts).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Puts `trace` into trace slot `slot` of population `q` (not a change of what shards copy).
    pub fn set_trace(&mut self, q: usize, slot: usize, trace: Trace) {
        self.list[q].traces[slot] = Some(trace);
    }
}

impl Deref for PopulationList {
    type Target = Vec<Population>;

    fn deref(&self) -> &Vec<Population> {
        &self.list
    }
}

impl DerefMut for PopulationList {
    fn deref_mut(&mut self) -> &mut Vec<Population> {
        self.changes += 1;
        &mut self.list
    }
}
