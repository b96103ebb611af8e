//! FPGA part presets (`--part`): the resources a design must fit, and the
//! part name the vendor scripts use. A RAMB18 counts as half a BRAM36.

use crate::error::{Error, Result};

/// A device's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    pub name: &'static str,
    /// The full part string for Vivado / Vitis HLS.
    pub vendor_part: &'static str,
    pub luts: usize,
    pub ffs: usize,
    pub bram36: usize,
    pub dsps: usize,
}

/// The presets qkhw knows.
pub const PARTS: &[Part] = &[
    Part { name: "xc7z020", vendor_part: "xc7z020clg400-1", luts: 53_200, ffs: 106_400, bram36: 140, dsps: 220 },
    Part { name: "xc7a100t", vendor_part: "xc7a100tcsg324-1", luts: 63_400, ffs: 126_800, bram36: 135, dsps: 240 },
    Part { name: "xcvu9p", vendor_part: "xcvu9p-flga2104-2L-e", luts: 1_182_240, ffs: 2_364_480, bram36: 2_160, dsps: 6_840 },
];

impl std::str::FromStr for Part {
    type Err = Error;
    /// A preset by name (`xc7z020`, or a full part string starting with it).
    fn from_str(s: &str) -> Result<Part> {
        let t = s.trim().to_ascii_lowercase();
        PARTS.iter().find(|p| t == p.name || t.starts_with(p.name)).copied().ok_or_else(|| {
            Error::Usage(format!("--part {s}: unknown; the presets are {}", PARTS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")))
        })
    }
}

impl Default for Part {
    fn default() -> Part {
        PARTS[2]
    }
}
