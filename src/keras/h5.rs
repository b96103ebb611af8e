//! The few HDF5 reads the Keras formats need, on the pure-Rust `hdf5-pure`
//! reader (the main job links no system library). Every failure becomes an
//! [`Error::Model`] naming the file and, where known, the layer.

use std::path::Path;

use hdf5_pure::{AttrValue, DType, Group};

use super::Tensor;
use crate::error::{Error, Result};

pub(super) fn err(path: &Path, layer: Option<&str>, msg: impl Into<String>) -> Error {
    Error::Model { path: path.to_path_buf(), layer: layer.map(str::to_string), msg: msg.into() }
}

pub(super) fn open(path: &Path, bytes: Vec<u8>, what: &str) -> Result<hdf5_pure::File> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(err(path, None, format!("{what} is not an HDF5 file")));
    }
    let len = bytes.len() as u64;
    let f = hdf5_pure::File::from_bytes(bytes).map_err(|e| err(path, None, format!("{what}: unreadable HDF5: {e}")))?;
    // A cut-off file may still hold every weight (the optimizer state sits
    // at the end); it is corrupt all the same, as h5py says.
    let eof = f.superblock().eof_address;
    if eof > len {
        return Err(err(path, None, format!("{what} is truncated: {len} bytes of the {eof} it declares")));
    }
    Ok(f)
}

/// A string or list-of-strings attribute, whatever string kind the writer
/// chose (h5py writes variable-length ASCII or UTF-8, Keras 2 fixed-length).
/// Keras writes an empty list as a float64 array of shape (0,).
pub(super) fn strings(v: &AttrValue) -> Option<Vec<String>> {
    if let Some(s) = v.as_strings() {
        return Some(s.to_vec());
    }
    if let Some(s) = v.as_str() {
        return Some(vec![s.to_string()]);
    }
    match v {
        AttrValue::F64Array(a) if a.is_empty() => Some(vec![]),
        AttrValue::F32Array(a) if a.is_empty() => Some(vec![]),
        AttrValue::U8Array(b) => String::from_utf8(b.clone()).ok().map(|s| vec![s]),
        _ => None,
    }
}

/// A string attribute of `g`, if present.
pub(super) fn attr_strings(g: &Group, name: &str, path: &Path, layer: Option<&str>) -> Result<Option<Vec<String>>> {
    let attrs = g.attrs().map_err(|e| err(path, layer, format!("cannot read attributes: {e}")))?;
    match attrs.get(name) {
        None => Ok(None),
        Some(v) => strings(v)
            .map(Some)
            .ok_or_else(|| err(path, layer, format!("attribute `{name}` is not a string or list of strings"))),
    }
}

/// A float32 dataset with its shape. Other types are refused by name:
/// Keras weights are float32 unless a mixed-precision policy was used.
pub(super) fn tensor(g: &Group, name: &str, path: &Path, layer: &str) -> Result<Option<Tensor>> {
    let e = |m: String| err(path, Some(layer), m);
    let ds = g.dataset(name).map_err(|x| e(format!("weight `{name}`: {x}")))?;
    let dtype = ds.dtype().map_err(|x| e(format!("weight `{name}`: {x}")))?;
    match dtype {
        DType::F32 => {}
        // Bookkeeping integers (QConv2DBatchnorm's `iteration`) are not weights.
        DType::I64 | DType::I32 | DType::U64 | DType::U32 => return Ok(None),
        other => return Err(e(format!("weight `{name}` has type {other}; only float32 weights are supported"))),
    }
    let shape: Vec<usize> = ds
        .shape()
        .map_err(|x| e(format!("weight `{name}`: {x}")))?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| e(format!("weight `{name}`: dimension {d} too large"))))
        .collect::<Result<_>>()?;
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n.is_none_or(|n| n > 1 << 31) {
        return Err(e(format!("weight `{name}` of shape {shape:?} is too large")));
    }
    let data = ds.read_f32().map_err(|x| e(format!("weight `{name}`: {x}")))?;
    if Some(data.len()) != n {
        return Err(e(format!("weight `{name}`: {} values for shape {shape:?}", data.len())));
    }
    Ok(Some(Tensor { shape, data }))
}

pub(super) fn group(g: &Group, name: &str, path: &Path, layer: Option<&str>) -> Result<Group> {
    g.group(name).map_err(|e| err(path, layer, format!("group `{name}`: {e}")))
}

pub(super) fn children(g: &Group, path: &Path, layer: Option<&str>) -> Result<(Vec<String>, Vec<String>)> {
    let gs = g.groups().map_err(|e| err(path, layer, format!("cannot list groups: {e}")))?;
    let ds = g.datasets().map_err(|e| err(path, layer, format!("cannot list datasets: {e}")))?;
    Ok((gs, ds))
}
