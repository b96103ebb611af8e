//! Passes over [`crate::ir::Graph`]: each one job, run in a fixed order.

pub mod bn_float;
pub mod bn_fusing;
pub mod bn_tables;
pub mod config;
pub mod hw_tensors;
pub mod hw_weights;
pub mod segments;
pub mod sparsity;
mod tfops;
