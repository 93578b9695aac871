//! Stability studies: the hyperparameter axes ([`axes`]), the grid of conditions and runs ([`grid`]), running them ([`runner`]), the
//! per-run stability metrics ([`stability`]), the records and summaries they produce ([`results`]),
//! the statistics that compare conditions ([`statistics`]), robustness over the hyperparameter grid
//! ([`robustness`]), the CSV/JSON summary files
//! ([`summary`]) and the plots and HTML report ([`report`]).

pub mod axes;
pub mod grid;
pub mod report;
pub mod results;
pub mod robustness;
pub mod runner;
pub mod stability;
pub mod statistics;
pub mod summary;
