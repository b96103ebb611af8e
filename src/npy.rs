//! NumPy `.npy` reading and writing: the CLI's array format.
//!
//! Only what the CLI needs: little-endian float32 in, float32 / int64 out,
//! C order. Every malformed file is an error that says what was expected;
//! the parser is fuzzed (`fuzz/fuzz_targets/npy.rs`).

use crate::error::{Error, Result};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed array: its shape and raw little-endian element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Array<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

/// The header fields qkhw reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

fn field<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let k = dict.find(&format!("'{key}'")).or_else(|| dict.find(&format!("\"{key}\"")))?;
    let rest = &dict[k + key.len() + 2..];
    let colon = rest.find(':')?;
    Some(rest[colon + 1..].trim_start())
}

/// Parse the header of an `.npy` byte string; returns it and the data offset.
pub fn parse_header(bytes: &[u8]) -> std::result::Result<(Header, usize), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a NumPy .npy file (missing the \\x93NUMPY magic)".into());
    }
    let major = bytes[6];
    let (len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or("truncated .npy header")?;
    let dict = std::str::from_utf8(&bytes[start..end]).map_err(|_| "the .npy header is not text")?;
    let descr = field(dict, "descr").ok_or("the .npy header has no 'descr'")?;
    let q = descr.chars().next().filter(|c| *c == '\'' || *c == '"').ok_or("bad 'descr' in the .npy header")?;
    let descr = descr[1..].split(q).next().unwrap_or("").to_string();
    let fortran = field(dict, "fortran_order").ok_or("the .npy header has no 'fortran_order'")?;
    let fortran_order = fortran.starts_with("True");
    let shape_s = field(dict, "shape").ok_or("the .npy header has no 'shape'")?;
    let close = shape_s.find(')').filter(|_| shape_s.starts_with('(')).ok_or("bad 'shape' in the .npy header")?;
    let mut shape = Vec::new();
    for part in shape_s[1..close].split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        shape.push(p.parse::<usize>().map_err(|_| format!("bad dimension `{p}` in the .npy shape"))?);
    }
    Ok((Header { descr, fortran_order, shape }, end))
}

fn element_count(shape: &[usize]) -> std::result::Result<usize, String> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| "the .npy shape is too large".into())
}

/// Checks a float32 header against the data length; the element count.
fn f32_count(h: &Header, body_len: u64) -> std::result::Result<usize, String> {
    if h.descr != "<f4" && h.descr != "|f4" {
        return Err(format!(
            "dtype '{}', expected float32 ('<f4'); convert with x.astype(np.float32)",
            h.descr
        ));
    }
    if h.fortran_order && h.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err("Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into());
    }
    let n = element_count(&h.shape)?;
    let need = n.checked_mul(4).ok_or("the .npy shape is too large")?;
    if body_len != need as u64 {
        return Err(format!(
            "{body_len} data bytes for shape {:?} of float32, expected {need} (truncated or padded file)",
            h.shape
        ));
    }
    Ok(n)
}

/// Parse a float32 `.npy` from memory.
pub fn parse_f32(bytes: &[u8]) -> std::result::Result<Array<f32>, String> {
    let (h, off) = parse_header(bytes)?;
    f32_count(&h, (bytes.len() - off) as u64)?;
    let data = bytes[off..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Array { shape: h.shape, data })
}

/// Read a float32 `.npy` file: the header, then the data straight into
/// the array (one copy, no intermediate byte buffer).
pub fn read_f32(path: &Path) -> Result<Array<f32>> {
    use std::io::Read;
    let npy = |msg: String| Error::Npy { path: path.into(), msg };
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    // The fixed part (magic, version, header length), then the header.
    let mut head = vec![0u8; 12.min(len as usize)];
    f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    let hlen = match head.get(6) {
        Some(1) if head.len() >= 10 => u16::from_le_bytes([head[8], head[9]]) as usize + 10,
        Some(2 | 3) if head.len() >= 12 => u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize + 12,
        // Let the parser name what is wrong.
        _ => return parse_header(&head).and_then(|_| Err("truncated .npy header".to_string())).map_err(npy),
    };
    if hlen as u64 > len.min(1 << 24) {
        return Err(npy("truncated .npy header".into()));
    }
    head.resize(hlen.max(head.len()), 0);
    f.read_exact(&mut head[12.min(hlen)..]).map_err(|e| Error::io(path, e))?;
    let (h, off) = parse_header(&head).map_err(npy)?;
    let mut data = vec![0f32; f32_count(&h, len - off as u64).map_err(npy)?];
    // A version-1 header shorter than 12 bytes cannot be valid, so the
    // bytes read are exactly the header.
    read_at(&f, bytemuck::cast_slice_mut(&mut data), off as u64).map_err(|e| Error::io(path, e))?;
    if cfg!(target_endian = "big") {
        for v in &mut data {
            *v = f32::from_bits(u32::from_le(v.to_bits()));
        }
    }
    Ok(Array { shape: h.shape, data })
}

/// Fill `buf` from `f` at `offset`: large files in two halves read side by
/// side (the copy out of the page cache and the page faults of the fresh
/// buffer were a sixth of `qkhw predict`'s time on a million samples).
fn read_at(f: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        const PARALLEL: usize = 8 << 20;
        if buf.len() >= PARALLEL {
            let mid = buf.len() / 2;
            let (a, b) = buf.split_at_mut(mid);
            return std::thread::scope(|s| {
                let h = s.spawn(|| f.read_exact_at(b, offset + mid as u64));
                f.read_exact_at(a, offset)?;
                h.join().unwrap_or_else(|_| Err(std::io::Error::other("a reader thread panicked")))
            });
        }
        f.read_exact_at(buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek};
        let mut f = f;
        f.seek(std::io::SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
}

/// The header of an `.npy` of `descr` values in `shape` (its data follows).
pub fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    encode(descr, shape, vec![])
}

/// The bytes of float32 data as `.npy` stores them (little-endian): the
/// data itself on little-endian machines, with no copy.
pub fn f32_bytes(data: &[f32]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        return std::borrow::Cow::Borrowed(bytemuck::cast_slice(data));
    }
    std::borrow::Cow::Owned(data.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn encode(descr: &str, shape: &[usize], body: Vec<u8>) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(&body);
    out
}

/// Serialize float32 data.
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        return encode("<f4", shape, bytemuck::cast_slice(data).to_vec());
    }
    encode("<f4", shape, data.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// Serialize int64 data.
pub fn encode_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    encode("<i8", shape, data.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// Serialize uint64 data (the low words of codes wider than 64 bits).
pub fn encode_u64(shape: &[usize], data: &[u64]) -> Vec<u8> {
    encode("<u8", shape, data.iter().flat_map(|v| v.to_le_bytes()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = encode_f32(&[2, 3], &[1.0, -0.0, f32::NAN, 4.5, 5.0, 6.0]);
        assert_eq!((b.len() - 24) % 64, 0, "header padded to 64 bytes");
        let a = parse_f32(&b).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data[1].to_bits(), (-0.0f32).to_bits());
        assert!(a.data[2].is_nan());
        let (h, off) = parse_header(&encode_i64(&[4], &[1, 2, 3, 4])).unwrap();
        assert_eq!((h.descr.as_str(), h.shape.as_slice(), off % 64), ("<i8", &[4usize][..], 0));
    }

    /// A file large enough to be read in two halves side by side comes
    /// back exactly, as does one just below that size.
    #[test]
    fn large_files_read_back_exactly() {
        let dir = std::env::temp_dir().join(format!("qkhw-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [(8 << 20) / 4 - 100, 3 << 20] {
            let data: Vec<f32> = (0..n).map(|k| k as f32 * 0.25 - 7.0).collect();
            let path = dir.join(format!("x{n}.npy"));
            std::fs::write(&path, encode_f32(&[n / 4, 4], &data)).unwrap();
            let a = read_f32(&path).unwrap();
            assert_eq!(a.shape, vec![n / 4, 4]);
            assert!(a.data == data, "{n} values");
            let mut parts = header("<f4", &[n / 4, 4]);
            parts.extend_from_slice(&f32_bytes(&data));
            assert_eq!(parts, encode_f32(&[n / 4, 4], &data));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_bad_files() {
        let good = encode_f32(&[3], &[1.0, 2.0, 3.0]);
        assert!(parse_f32(b"not numpy").unwrap_err().contains("magic"));
        assert!(parse_f32(&good[..good.len() - 1]).unwrap_err().contains("truncated"));
        assert!(parse_f32(&good[..20]).unwrap_err().contains("truncated"));
        assert!(parse_f32(&encode_i64(&[1], &[1])).unwrap_err().contains("float32"));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(parse_f32(&v9).unwrap_err().contains("version"));
    }
}
