//! The CPU's vector instructions, chosen at run time for the hot loops.
//!
//! The release build targets baseline x86-64 (SSE2), where 32-bit integer vector multiplies and
//! table gathers do not exist, so the digital neuron loops stay scalar. [`vectorised`] runs a loop
//! inside a function compiled for the best instruction set the machine has (AVX-512, AVX2 + FMA,
//! … as detected by `pulp`, without `unsafe` in this crate), so that the compiler vectorises it
//! with those instructions. Only exact integer arithmetic and IEEE operations the compiler may not
//! reorder are vectorised, so the numbers are the same on every machine.

use std::sync::OnceLock;

/// The detected instruction sets (detected once per process).
fn arch() -> pulp::Arch {
    static ARCH: OnceLock<pulp::Arch> = OnceLock::new();
    *ARCH.get_or_init(pulp::Arch::new)
}

/// Runs `op` compiled for the best vector instruction set of this CPU (its `with_simd` and what it
/// calls must be `#[inline(always)]` for the choice to reach their loops; a closure would not be
/// inlined).
#[inline(always)]
pub(crate) fn vectorised<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    arch().dispatch(op)
}
