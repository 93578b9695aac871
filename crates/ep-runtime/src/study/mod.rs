//! Stability studies: the grid of conditions and runs ([`grid`]), running them ([`runner`]), the
//! per-run stability metrics ([`stability`]), the records and summaries they produce ([`results`]),
//! the statistics that compare conditions ([`statistics`]), the CSV/JSON summary files
//! ([`summary`]) and the plots and HTML report ([`report`]).

pub mod grid;
pub mod report;
pub mod results;
pub mod runner;
pub mod stability;
pub mod statistics;
pub mod summary;
