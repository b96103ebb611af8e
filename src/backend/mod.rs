//! Backends: each renders the annotated graph into files, deciding no
//! arithmetic of its own.

pub mod c;
pub mod rom;
pub mod verilog;
