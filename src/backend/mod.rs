//! Backends: each renders the annotated graph into files, deciding no
//! arithmetic of its own.

pub mod c;
pub mod hls;
pub mod rom;
pub mod verilog;
