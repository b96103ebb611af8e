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
//!
//! [model]
//! output_head = "argmax"        # or "logits" (default)
//! reuse_factor = 4              # hls4ml's ReuseFactor for every Dense layer
//! strategy = "resource"         # or "latency" (unrolled whatever the reuse)
//!
//! [layer.fc1]
//! reuse_factor = 16             # this layer's own (wins over the others)
//!
//! [layer.conv1]
//! reuse_factor = 8
//! parallelization_factor = 4    # a folded convolution: output positions computed at once
//! ```
//! Formats are also taken in hls4ml's spelling, with its meaning:
//! `ap_fixed<16,6>` truncates and wraps, `ap_fixed<16,6,AP_RND_CONV,AP_SAT>`
//! rounds ties to even and saturates (see [`crate::fxp::InputFormat`]).
//! In a `[layer.NAME]` table, explicit `rounding` / `overflow` keys win
//! over the modes of an `ap_fixed` spelling.
//!
//! Every key must do something for its layer: `bn_inv` / `bn_bias` apply to
//! a batch norm, or to the convolution a batch norm is fused into (where
//! `qkhw inspect` lists the fused tables); `rounding` / `overflow` need a
//! format in the same table.
//! `output` also gives a float activation (`tanh`, `sigmoid`) a format: it
//! is evaluated in float32 as TensorFlow does, then quantized.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, InputFormat, Overflow, Rounding};

/// The per-layer and model-wide choices of `--config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file it was read from, named in the errors of [`Config::check`].
    pub source: Option<std::path::PathBuf>,
    pub input: Option<InputFormat>,
    pub layers: BTreeMap<String, LayerConfig>,
    pub output_head: OutputHead,
    /// `[model]` architecture defaults.
    pub model: ModelConfig,
}

/// hls4ml's Strategy: `latency` keeps a layer unrolled; `resource` folds it
/// by its reuse factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Latency,
    Resource,
}

/// The `[model]` table's architecture defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelConfig {
    pub reuse_factor: Option<usize>,
    pub strategy: Option<Strategy>,
    /// How a standalone QBatchNormalization computes (`--bn`).
    pub bn: Option<BnMode>,
}

/// What a standalone QBatchNormalization before a quantizer computes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BnMode {
    /// The exact tables `model_save_quantized_weights` defines (`bn_inv`,
    /// `bn_bias`): what the hardware weights are.
    #[default]
    #[value(help = "model_save_quantized_weights's exact tables")]
    Tables,
    /// What QKeras's `model.predict` computes: TensorFlow's float32
    /// `x * inv + (beta - mean * inv)`, its `1 / sqrt` included, through
    /// the quantizer that follows ([`crate::passes::bn_float`]).
    #[value(help = "model.predict's float32")]
    Qkeras,
}

impl std::str::FromStr for BnMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<BnMode> {
        match s {
            "tables" => Ok(BnMode::Tables),
            "qkeras" => Ok(BnMode::Qkeras),
            _ => Err(Error::Usage(format!("--bn `{s}`: use `tables` (model_save_quantized_weights's exact bn_inv / bn_bias, the default) or `qkeras` (model.predict's float32)"))),
        }
    }
}

/// What the design emits after the model's last layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OutputHead {
    /// The model's outputs (the logits before a dropped float softmax).
    #[default]
    #[value(help = "The model's outputs (logits before a dropped softmax)")]
    Logits,
    /// The index of the largest output, ties to the first (numpy's
    /// `argmax`), computed exactly on the integer codes.
    #[value(help = "The index of the largest output (ties: the first, as numpy's argmax)")]
    Argmax,
}

impl std::str::FromStr for OutputHead {
    type Err = Error;
    /// The names `--output-head` takes (the Python package's `output_head`).
    fn from_str(s: &str) -> Result<OutputHead> {
        <OutputHead as clap::ValueEnum>::from_str(s, false).map_err(|_| Error::Usage(format!("output head `{s}`: use `logits` (the model's outputs, the default) or `argmax` (the index of the largest output)")))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    pub output: Option<FixedFormat>,
    pub bn_inv: Option<FixedFormat>,
    pub bn_bias: Option<FixedFormat>,
    pub rounding: Rounding,
    pub overflow: Overflow,
    pub reuse_factor: Option<usize>,
    /// hls4ml's ParallelizationFactor: the output positions (rows) a
    /// folded convolution computes at once, each on its own copy of the
    /// multipliers, all reading the same weight word (default 1).
    pub parallelization_factor: Option<usize>,
    pub strategy: Option<Strategy>,
    pub bn: Option<BnMode>,
}

impl Default for LayerConfig {
    fn default() -> LayerConfig {
        LayerConfig {
            output: None,
            bn_inv: None,
            bn_bias: None,
            rounding: Rounding::TiesEven,
            overflow: Overflow::Saturate,
            reuse_factor: None,
            parallelization_factor: None,
            strategy: None,
            bn: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    output_head: Option<OutputHead>,
    reuse_factor: Option<usize>,
    strategy: Option<Strategy>,
    bn: Option<BnMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    output: Option<String>,
    bn_inv: Option<String>,
    bn_bias: Option<String>,
    rounding: Option<Rounding>,
    overflow: Option<Overflow>,
    reuse_factor: Option<usize>,
    parallelization_factor: Option<usize>,
    strategy: Option<Strategy>,
    bn: Option<BnMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    input: Option<RawInput>,
    model: Option<RawModel>,
    #[serde(default)]
    layer: BTreeMap<String, RawLayer>,
}

/// A TOML error in one line: where (line and column) and what, without
/// the toml crate's multi-line snippet.
fn toml_error(text: &str, e: &toml::de::Error) -> Error {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
        format!("line {line}, column {column}: ")
    });
    Error::Usage(format!("{}{}", at.unwrap_or_default(), e.message().split_whitespace().collect::<Vec<_>>().join(" ")))
}

impl Config {
    /// Read a TOML file, or a JSON file (`.json`: the same tables as
    /// objects, as the Python package's config dicts are written).
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let parsed = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::parse_json(&text),
            _ => Self::parse(&text),
        };
        let mut c = parsed.map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parse the TOML text; an error is one line with its line and column
    /// ([`toml_error`]).
    pub fn parse(text: &str) -> Result<Config> {
        Self::from_raw(toml::from_str(text).map_err(|e| toml_error(text, &e))?)
    }

    /// Parse the same schema written as JSON (`{"layer": {"fc1": {...}}}`).
    pub fn parse_json(text: &str) -> Result<Config> {
        Self::from_raw(serde_json::from_str(text).map_err(|e| Error::Usage(format!("config: {e}")))?)
    }

    fn from_raw(raw: Raw) -> Result<Config> {
        let mut layers = BTreeMap::new();
        for (name, l) in raw.layer {
            let at = |e: Error| Error::Usage(format!("[layer.{name}]: {e}"));
            let spelled: Vec<(bool, InputFormat)> = [&l.output, &l.bn_inv, &l.bn_bias]
                .into_iter()
                .flatten()
                .map(|s| s.parse::<InputFormat>().map(|f| (s.trim().starts_with("ap_"), f)))
                .collect::<Result<_>>()
                .map_err(at)?;
            let parse = |s: &Option<String>| s.as_deref().map(|t| t.parse::<InputFormat>().map(|f| f.fmt)).transpose();
            // The modes of an ap_fixed spelling, unless the keys say otherwise.
            let modes: Vec<(Rounding, Overflow)> =
                spelled.iter().filter(|f| f.0).map(|f| (f.1.rounding, f.1.overflow)).collect();
            let rounding = l.rounding.or(modes.first().map(|m| m.0));
            let overflow = l.overflow.or(modes.first().map(|m| m.1));
            if (l.rounding.is_none() && modes.iter().any(|m| Some(m.0) != rounding)) || (l.overflow.is_none() && modes.iter().any(|m| Some(m.1) != overflow)) {
                return Err(at(Error::Usage("its ap_fixed formats disagree on rounding or overflow; give `rounding` and `overflow` keys".into())));
            }
            if (l.rounding.is_some() || l.overflow.is_some()) && spelled.is_empty() {
                return Err(at(Error::Usage("`rounding` / `overflow` do nothing without `output`, `bn_inv` or `bn_bias` in the same table".into())));
            }
            layers.insert(
                name.clone(),
                LayerConfig {
                    output: parse(&l.output).map_err(at)?,
                    bn_inv: parse(&l.bn_inv).map_err(at)?,
                    bn_bias: parse(&l.bn_bias).map_err(at)?,
                    rounding: rounding.unwrap_or(Rounding::TiesEven),
                    overflow: overflow.unwrap_or(Overflow::Saturate),
                    reuse_factor: positive(l.reuse_factor).map_err(at)?,
                    parallelization_factor: match l.parallelization_factor {
                        Some(0) => return Err(at(Error::Usage("`parallelization_factor` must be at least 1".into()))),
                        p => p,
                    },
                    strategy: l.strategy,
                    bn: l.bn,
                },
            );
        }
        let input = raw.input.map(|i| i.format.parse()).transpose().map_err(|e: Error| Error::Usage(format!("[input] format: {e}")))?;
        let (output_head, model) = match raw.model {
            Some(m) => (
                m.output_head.unwrap_or_default(),
                ModelConfig { reuse_factor: positive(m.reuse_factor).map_err(|e| Error::Usage(format!("[model]: {e}")))?, strategy: m.strategy, bn: m.bn },
            ),
            None => Default::default(),
        };
        Ok(Config { source: None, input, layers, output_head, model })
    }

    /// The `[layer.NAME]` table, if any.
    pub fn layer(&self, name: &str) -> Option<&LayerConfig> {
        self.layers.get(name)
    }

    /// How the standalone batch norm `bn` computes: its `[layer.BN] bn`,
    /// else `[model] bn` (or `--bn`), else the tables.
    pub fn bn_mode(&self, bn: &str) -> BnMode {
        self.layer(bn).and_then(|c| c.bn).or(self.model.bn).unwrap_or_default()
    }

    /// The table that configures the batch norm `bn`, fused into `producer`
    /// or not: `[layer.BN]` or, where fused, `[layer.PRODUCER]` (the name
    /// `inspect` lists the fused tables under).
    pub fn bn_tables(&self, bn: &str, producer: Option<&str>) -> Option<&LayerConfig> {
        let own = self.layer(bn).filter(|c| c.bn_inv.is_some() || c.bn_bias.is_some());
        own.or_else(|| producer.and_then(|p| self.layer(p)))
    }

    /// Every configured layer must exist and every key must do something
    /// for it: a typo or a misplaced key must not pass silently.
    pub fn check(&self, g: &crate::ir::Graph) -> Result<()> {
        // The file, where the configuration came from one (batch 12: this
        // error alone did not name it).
        let config = self.source.as_ref().map_or("--config".to_string(), |p| format!("--config {}", p.display()));
        let fused = super::bn_fusing::pairs(g);
        for (name, c) in &self.layers {
            let Some(l) = g.layer(name) else {
                let all: Vec<&str> = g.layers.iter().map(|l| l.name.as_str()).collect();
                return Err(Error::Usage(format!("{config}: no layer `{name}`; the model has {}", all.join(", "))));
            };
            // Recurrent layers: their input projection folds and the cell
            // iterates over time (`arch::recurrent`).
            // Depthwise (and separable) convolutions and average poolings
            // fold as well (`arch::folded::foldable`; a pooling by a power
            // of two stays unrolled, which the schedule's notes say).
            use crate::ir::Op;
            let foldable = |op: &Op| {
                matches!(
                    op,
                    Op::Dense { .. } | Op::Conv { .. } | Op::Depthwise { .. } | Op::Separable { .. } | Op::Pool { max: false, .. } | Op::GlobalPool { max: false, .. } | Op::Rnn { .. } | Op::Bidirectional { .. }
                )
            };
            let dense = match &l.op {
                crate::ir::Op::Folded { inner, .. } => foldable(inner),
                op => foldable(op),
            };
            if c.parallelization_factor.is_some_and(|p| p > 1) && !dense {
                return Err(Error::Usage(format!(
                    "{config} [layer.{name}]: `parallelization_factor` computes several output positions of a folded convolution or average pooling (or rows of a Dense over a sequence) at once; `{name}` is a {}; remove the key",
                    l.class
                )));
            }
            if c.reuse_factor.is_some_and(|r| r > 1) && !dense {
                return Err(Error::Usage(format!(
                    "{config} [layer.{name}]: `reuse_factor` folds Dense, convolution (Conv1D/Conv2D, depthwise, separable), average pooling and recurrent layers only so far; `{name}` is a {} (it stays unrolled); remove the key",
                    l.class
                )));
            }
            if c.bn.is_some() && !matches!(l.op, crate::ir::Op::BatchNorm(_)) {
                return Err(Error::Usage(format!(
                    "{config} [layer.{name}]: `bn` applies to a batch-norm layer (QBatchNormalization, BatchNormalization); `{name}` is a {}",
                    l.class
                )));
            }
            if c.bn_inv.is_none() && c.bn_bias.is_none() {
                continue;
            }
            let is_bn = matches!(l.op, crate::ir::Op::BatchNorm(_));
            let fused_bn = fused.iter().find(|(p, _)| g.layers[p.0].name == *name).map(|(_, b)| g.layers[b.0].name.as_str());
            let fused_into = fused.iter().find(|(_, b)| g.layers[b.0].name == *name).map(|(p, _)| g.layers[p.0].name.as_str());
            if !is_bn && fused_bn.is_none() {
                return Err(Error::Usage(format!(
                    "{config} [layer.{name}]: `bn_inv` / `bn_bias` apply to a batch norm (or the convolution one is fused into); `{name}` ({}) has none; its table takes `output`, `rounding`, `overflow`",
                    l.class
                )));
            }
            let other = fused_bn.or(fused_into).and_then(|o| self.layer(o)).filter(|o| o.bn_inv.is_some() || o.bn_bias.is_some());
            if other.is_some() {
                let (p, b) = match (fused_bn, fused_into) {
                    (Some(b), _) => (name.as_str(), b),
                    (_, Some(p)) => (p, name.as_str()),
                    _ => unreachable!("checked above"),
                };
                return Err(Error::Usage(format!(
                    "{config}: the batch norm `{b}` is fused into `{p}`; configure its tables once, under [layer.{p}] (where `qkhw inspect` lists them)"
                )));
            }
        }
        Ok(())
    }
}

/// A reuse factor must be at least 1.
fn positive(r: Option<usize>) -> Result<Option<usize>> {
    match r {
        Some(0) => Err(Error::Usage("`reuse_factor` must be at least 1".into())),
        r => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_heads_parse_by_their_cli_names() {
        assert_eq!("argmax".parse::<OutputHead>().unwrap(), OutputHead::Argmax);
        assert_eq!("logits".parse::<OutputHead>().unwrap(), OutputHead::Logits);
        let e = "softmax".parse::<OutputHead>().unwrap_err().to_string();
        assert!(e.contains("`softmax`") && e.contains("argmax") && e.contains("logits"), "{e}");
    }

    #[test]
    fn json_is_the_same_schema() {
        let t = Config::parse("[input]\nformat = \"fixed<16,6>\"\n[layer.fc1]\noutput = \"ap_fixed<8,3>\"\nreuse_factor = 4\n[model]\nstrategy = \"resource\"\n").unwrap();
        let j = Config::parse_json(r#"{"input": {"format": "fixed<16,6>"}, "layer": {"fc1": {"output": "ap_fixed<8,3>", "reuse_factor": 4}}, "model": {"strategy": "resource"}}"#).unwrap();
        assert_eq!(t, j);
        let e = Config::parse_json(r#"{"layer": {"fc1": {"outptu": "fixed<8,3>"}}}"#).unwrap_err().to_string();
        assert!(e.contains("outptu"), "{e}");
    }

    #[test]
    fn parses_and_rejects() {
        let c = Config::parse(
            "[input]\nformat = \"fixed<16,6>\"\n[layer.fc1]\noutput = \"ufixed<8,3>\"\nrounding = \"floor\"\n[layer.bn]\nbn_inv = \"fixed<12,2>\"\n",
        )
        .unwrap();
        assert_eq!(c.input, Some(InputFormat::nearest(FixedFormat { width: 16, frac: 10, signed: true })));
        let l = c.layer("fc1").unwrap();
        assert_eq!(l.output, Some(FixedFormat { width: 8, frac: 5, signed: false }));
        assert_eq!(l.rounding, Rounding::Floor);
        assert!(c.layer("bn").unwrap().bn_inv.is_some());
        // hls4ml's spelling means what Vitis means; explicit keys win.
        let c = Config::parse("[layer.a]\noutput = \"ap_fixed<8,2>\"\n[layer.b]\noutput = \"ap_fixed<8,2>\"\nrounding = \"ties_even\"\n[model]\noutput_head = \"argmax\"").unwrap();
        let (a, b) = (c.layer("a").unwrap(), c.layer("b").unwrap());
        assert_eq!((a.rounding, a.overflow), (Rounding::Floor, Overflow::Wrap));
        assert_eq!((b.rounding, b.overflow), (Rounding::TiesEven, Overflow::Wrap));
        assert_eq!(c.output_head, OutputHead::Argmax);
        // TOML's diagnostic in one line, with its line and column (its
        // caret snippet took five: cross-check batch 10).
        let e = Config::parse("[layer.a\noutput = 1").unwrap_err().to_string();
        assert!(!e.contains('\n') && e.starts_with("line 1, column 9: "), "{e}");
        let e = Config::parse("[layer.a]\noutput = \"fixed<8,2>\"\nbogus = 1\n").unwrap_err().to_string();
        assert!(!e.contains('\n') && e.starts_with("line 3, column 1: unknown field `bogus`"), "{e}");
        for bad in [
            "[layer.x]\noutput = \"fixed<0,1>\"",
            "[layer.x]\nwidth = 3",
            "[input]\nformat = \"float\"",
            "[layer.x]\nrounding = \"up\"",
            "[layer.x]\nrounding = \"floor\"",
            "[layer.x]\noutput = \"ap_fixed<8,2>\"\nbn_inv = \"ap_fixed<8,2,AP_RND_CONV,AP_SAT>\"",
            "[model]\noutput_head = \"softmax\"",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }
}
