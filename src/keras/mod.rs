//! Readers for the files QKeras users have: a Keras 3 `.keras` archive, a
//! legacy full-model `.h5`, or a model JSON with its weights `.h5`.
//! Nothing is guessed: a weight that cannot be placed is an error naming the
//! layer (Keras itself may load such a file with fresh random weights).

pub mod archive;
pub mod config;
pub mod h5_write;
mod h5;
pub mod weights;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest;

pub use config::{LayerSpec, ModelSpec};
pub use weights::LayerWeights;

use crate::error::{Error, Result};

/// A float32 tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Which file layout the model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Keras,
    LegacyH5,
    Json,
}

/// A model file as read: its layers and their weights, not yet checked
/// against each other (that is [`crate::ir::Graph::from_saved`]).
#[derive(Debug, Clone)]
pub struct SavedModel {
    pub path: PathBuf,
    pub format: Format,
    /// SHA-256 of the model file (hex), for generated-file headers.
    pub sha256: String,
    pub spec: ModelSpec,
    pub weights: LayerWeights,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Model { path: path.to_path_buf(), layer: None, msg: msg.into() }
}

/// Largest member of a `.keras` archive we inflate (a guard against zip bombs).
const MAX_MEMBER: u64 = 1 << 31;

/// Read a model file, choosing the reader by content, not by extension.
pub fn load(path: impl AsRef<Path>) -> Result<SavedModel> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let weights_beside = |p: &Path| -> Result<Vec<u8>> {
        let cands = json_weight_candidates(p);
        for c in &cands {
            if c.exists() {
                return std::fs::read(c).map_err(|e| Error::io(c, e));
            }
        }
        let list: Vec<String> = cands.iter().map(|c| c.display().to_string()).collect();
        Err(err(p, format!("a model JSON needs its weights beside it; none of {} exists", list.join(", "))))
    };
    load_bytes(path, bytes, weights_beside)
}

/// `x.json` → `x.weights.h5`, `x.h5`.
pub fn json_weight_candidates(p: &Path) -> Vec<PathBuf> {
    let stem = p.with_extension("");
    vec![PathBuf::from(format!("{}.weights.h5", stem.display())), stem.with_extension("h5")]
}

/// [`load`] on bytes already in memory; `weights_for_json` supplies the
/// weights file of a model JSON. Used by the fuzz target.
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    weights_for_json: impl FnOnce(&Path) -> Result<Vec<u8>>,
) -> Result<SavedModel> {
    let sha256 = hex(&sha2::Sha256::digest(&bytes));
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let (cfg, w) = unzip(path, bytes)?;
        let config = parse_json(path, &cfg, "config.json")?;
        let spec = config::parse(&config, path)?;
        let file = h5::open(path, w, "model.weights.h5")?;
        let weights = weights::keras3(&file.root(), path, "model.weights.h5")?;
        return Ok(SavedModel { path: path.into(), format: Format::Keras, sha256, spec, weights });
    }
    if hdf5_pure::is_hdf5_bytes(&bytes) {
        let file = h5::open(path, bytes, "the file")?;
        let root = file.root();
        let cfg = h5::attr_strings(&root, "model_config", path, None)?
            .and_then(|v| v.into_iter().next())
            .ok_or_else(|| {
                err(path, "HDF5 file without a `model_config` attribute: a weights-only file? \
                           Pass the model JSON (weights beside it) or a full-model .h5/.keras")
            })?;
        let config = parse_json(path, cfg.as_bytes(), "model_config")?;
        let spec = config::parse(&config, path)?;
        let mw = h5::group(&root, "model_weights", path, None)?;
        let weights = weights::legacy(&mw, path)?;
        return Ok(SavedModel { path: path.into(), format: Format::LegacyH5, sha256, spec, weights });
    }
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"{") {
        let config = parse_json(path, &bytes, "model JSON")?;
        let spec = config::parse(&config, path)?;
        let wbytes = weights_for_json(path)?;
        let file = h5::open(path, wbytes, "the weights file")?;
        let root = file.root();
        let weights = if root.group("layers").is_ok() {
            weights::keras3(&root, path, "the weights file")?
        } else if let Ok(mw) = root.group("model_weights") {
            weights::legacy(&mw, path)?
        } else {
            weights::legacy(&root, path)?
        };
        return Ok(SavedModel { path: path.into(), format: Format::Json, sha256, spec, weights });
    }
    Err(err(path, "not a model file: expected a .keras archive, a Keras .h5 or a model JSON"))
}

/// The zip archive of a `.keras` file, or an error that says why not (a
/// truncated file has lost its zip directory, at the end).
pub(crate) fn open_zip(path: &Path, bytes: Vec<u8>) -> Result<zip::ZipArchive<std::io::Cursor<Vec<u8>>>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        let what = e.to_string();
        if what.contains("EOCD") || what.contains("end of central directory") {
            err(path, "not a complete .keras archive (zip): truncated? (its zip directory is missing)")
        } else {
            err(path, format!("not a readable .keras archive (zip): {what}"))
        }
    })
}

fn unzip(path: &Path, bytes: Vec<u8>) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut z = open_zip(path, bytes)?;
    let mut member = |name: &str| -> Result<Vec<u8>> {
        let mut f = z
            .by_name(name)
            .map_err(|e| err(path, format!("the .keras archive has no `{name}`: {e}")))?;
        if f.size() > MAX_MEMBER {
            return Err(err(path, format!("`{name}` is {} bytes; the limit is {MAX_MEMBER}", f.size())));
        }
        let mut out = Vec::with_capacity(f.size() as usize);
        f.by_ref()
            .take(MAX_MEMBER)
            .read_to_end(&mut out)
            .map_err(|e| err(path, format!("`{name}` in the archive: {e}")))?;
        Ok(out)
    };
    Ok((member("config.json")?, member("model.weights.h5")?))
}

/// A model config as Keras loads it (shared objects resolved, [`config::unshare`]).
fn parse_json(path: &Path, bytes: &[u8], what: &str) -> Result<serde_json::Value> {
    let mut v = serde_json::from_slice(bytes).map_err(|e| err(path, format!("{what} is not valid JSON: {e}")))?;
    config::unshare(&mut v);
    Ok(v)
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
