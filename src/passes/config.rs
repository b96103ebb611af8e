//! Per-layer precision overrides (`--config FILE.toml`), the way hls4ml
//! users set precision per layer. Without a config every tensor is held
//! exactly (see [`super::precision`]); a config trades that for narrower
//! hardware, and `predict` then follows the configured formats.
//!
//! ```toml
//! [input]
//! format = "fixed<16,6>"        # like --input-format
//!
//! [layer.bn1]                   # a batch norm (fused or standalone)
//! bn_inv = "fixed<12,2>"        # its multiplier table, rounded to this format
//! bn_bias = "fixed<16,6>"       # its bias table (fused_bias / bn_bias)
//!
//! [layer.fc3]
//! output = "fixed<16,6>"        # requantize the layer's output
//! rounding = "ties_even"        # or "floor", "ties_away" (default ties_even)
//! overflow = "saturate"         # or "wrap" (default saturate)
//! ```
//! `output` also gives a float activation (`tanh`, `sigmoid`) a format: it
//! is evaluated in float32 as TensorFlow does, then quantized.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, Overflow, Rounding};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub input: Option<FixedFormat>,
    pub layers: BTreeMap<String, LayerConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    pub output: Option<FixedFormat>,
    pub bn_inv: Option<FixedFormat>,
    pub bn_bias: Option<FixedFormat>,
    pub rounding: Rounding,
    pub overflow: Overflow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    output: Option<String>,
    bn_inv: Option<String>,
    bn_bias: Option<String>,
    rounding: Option<Rounding>,
    overflow: Option<Overflow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    input: Option<RawInput>,
    #[serde(default)]
    layer: BTreeMap<String, RawLayer>,
}

impl Config {
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let raw: Raw = toml::from_str(text).map_err(|e| Error::Usage(e.to_string().trim().replace('\n', " ")))?;
        let fmt = |s: &Option<String>| s.as_deref().map(str::parse::<FixedFormat>).transpose();
        let mut layers = BTreeMap::new();
        for (name, l) in raw.layer {
            let at = |e: Error| Error::Usage(format!("[layer.{name}]: {e}"));
            layers.insert(
                name.clone(),
                LayerConfig {
                    output: fmt(&l.output).map_err(at)?,
                    bn_inv: fmt(&l.bn_inv).map_err(at)?,
                    bn_bias: fmt(&l.bn_bias).map_err(at)?,
                    rounding: l.rounding.unwrap_or(Rounding::TiesEven),
                    overflow: l.overflow.unwrap_or(Overflow::Saturate),
                },
            );
        }
        Ok(Config { input: raw.input.map(|i| i.format.parse()).transpose()?, layers })
    }

    pub fn layer(&self, name: &str) -> Option<&LayerConfig> {
        self.layers.get(name)
    }

    /// Every configured layer must exist: a typo must not pass silently.
    pub fn check(&self, g: &crate::ir::Graph) -> Result<()> {
        for name in self.layers.keys() {
            if g.layer(name).is_none() {
                let all: Vec<&str> = g.layers.iter().map(|l| l.name.as_str()).collect();
                return Err(Error::Usage(format!("--config: no layer `{name}`; the model has {}", all.join(", "))));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = Config::parse(
            "[input]\nformat = \"fixed<16,6>\"\n[layer.fc1]\noutput = \"ufixed<8,3>\"\nrounding = \"floor\"\n[layer.bn]\nbn_inv = \"fixed<12,2>\"\n",
        )
        .unwrap();
        assert_eq!(c.input, Some(FixedFormat { width: 16, frac: 10, signed: true }));
        let l = c.layer("fc1").unwrap();
        assert_eq!(l.output, Some(FixedFormat { width: 8, frac: 5, signed: false }));
        assert_eq!(l.rounding, Rounding::Floor);
        assert!(c.layer("bn").unwrap().bn_inv.is_some());
        for bad in ["[layer.x]\noutput = \"fixed<0,1>\"", "[layer.x]\nwidth = 3", "[input]\nformat = \"float\"", "[layer.x]\nrounding = \"up\""] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }
}
