//! The mapper: the network as a graph of populations and projections ([`population_graph`]), cut
//! into core-sized blocks and placed on the cores and chips of a board ([`placement`]).

pub mod placement;
pub mod population_graph;
