//! The data a network learns from: labelled image datasets ([`dataset`]), resolved from a spec
//! ([`loading`]) into the embedded MNIST subset, MNIST-style IDX files ([`idx`]) or a tiny
//! synthetic task ([`synthetic`]).

pub mod dataset;
pub mod idx;
pub mod loading;
pub mod synthetic;
