//! The hardware architecture layer: the dataflow schedule (which
//! architecture each layer gets, the design's initiation interval) and the
//! netlist the architectures lower to, printed by one writer.

pub mod fabric;
pub mod folded;
pub mod line_buffer;
pub mod netlist;
pub mod part;
pub mod recurrent;
pub mod schedule;
pub mod stream;
pub mod stream_fifos;
pub mod timing;
