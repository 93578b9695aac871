//! The network living on an emulated chip: built from a shape and a config, run through free and
//! nudged phases and trained by the local EP rule ([`ep_network`]), and the per-core report of
//! where it sits ([`mapping_report`]).

pub mod ep_network;
pub mod mapping_report;
