//! A `.keras` archive as its members, for the commands that write one
//! (`freeze`, `quantize-model`): read every member, change some, zip them
//! again in the same order.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// The members of a `.keras` archive, in archive order: (name, bytes).
pub type Members = Vec<(String, Vec<u8>)>;

/// Every member of the `.keras` archive at `path`; `what` names the command
/// in the error for a file that is not one.
pub fn read(path: &Path, what: &str) -> Result<Members> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let not_keras = || Error::Model {
        path: path.to_path_buf(),
        layer: None,
        msg: format!("{what} reads a Keras 3 `.keras` archive (save the model with model.save(\"NAME.keras\")) and writes one"),
    };
    // A zip file that does not open (truncated, say) says why; another
    // file is not a `.keras` archive at all.
    let mut zip = if bytes.starts_with(b"PK") { super::open_zip(path, bytes)? } else { return Err(not_keras()) };
    let mut members = vec![];
    for k in 0..zip.len() {
        let mut f = zip.by_index(k).map_err(|_| not_keras())?;
        if f.size() > super::MAX_MEMBER {
            return Err(Error::Model { path: path.to_path_buf(), layer: None, msg: format!("archive member of {} bytes; the limit is {}", f.size(), super::MAX_MEMBER) });
        }
        let mut data = vec![];
        f.by_ref().take(super::MAX_MEMBER).read_to_end(&mut data).map_err(|e| Error::io(path, e))?;
        let name = f.name().map_err(|_| not_keras())?.to_string();
        members.push((name, data));
    }
    if !members.iter().any(|m| m.0 == "config.json") {
        return Err(not_keras());
    }
    Ok(members)
}

/// An output `.keras` path: Keras's `load_model` opens a zip archive only
/// under that extension (`x.h5` would be read as HDF5 and fail).
pub fn check_out_name(out: &Path) -> Result<()> {
    if out.extension().and_then(|e| e.to_str()) == Some("keras") {
        return Ok(());
    }
    Err(Error::Usage(format!("{}: the output is a Keras 3 archive, which Keras loads only as NAME.keras; give it that extension", out.display())))
}

/// A `.keras` archive written in memory, read back by qkhw's own reader
/// under the name it will have (no temporary file).
pub fn read_back(out: &Path, bytes: &[u8]) -> Result<super::SavedModel> {
    super::load_bytes(out, bytes.to_vec(), |p| Err(Error::Internal(format!("{}: a .keras archive has no weights beside it", p.display()))))
}

/// The member called `name`.
pub fn member<'a>(members: &'a mut Members, name: &str) -> Option<&'a mut Vec<u8>> {
    members.iter_mut().find(|m| m.0 == name).map(|m| &mut m.1)
}

/// Zip `members` (deflated, in their order) into the bytes of a `.keras` file.
pub fn write(members: &Members) -> Result<Vec<u8>> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let zerr = |e: zip::result::ZipError| Error::Internal(format!("zip: {e}"));
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            w.start_file(name.as_str(), opts).map_err(zerr)?;
            w.write_all(data).map_err(|e| Error::Internal(format!("zip: {e}")))?;
        }
        w.finish().map_err(zerr)?;
    }
    Ok(buf.into_inner())
}
