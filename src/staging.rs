//! Atomic outputs: a command that fails must leave no new or half-written
//! file behind. Every output is first written to a temporary name beside its
//! final path; [`Staged::commit`] renames them all at the end, and a
//! `Staged` dropped without a commit (an error on the way) removes its
//! temporaries and the folders it created. A run stopped by a signal
//! (Ctrl-C, `timeout`'s SIGTERM) drops nothing: the binary's handler calls
//! [`remove_pending`], which removes every temporary still staged and the
//! process's scratch folders.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporaries staged and not yet committed or dropped, and the folders
/// created for them (outermost first), process-wide: what
/// [`remove_pending`] removes.
static PENDING: Mutex<(Vec<PathBuf>, Vec<PathBuf>)> = Mutex::new((vec![], vec![]));

fn pending() -> std::sync::MutexGuard<'static, (Vec<PathBuf>, Vec<PathBuf>)> {
    PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forget `files` and `dirs` (committed, or removed by their `Staged`).
fn settle(files: &[(PathBuf, PathBuf)], dirs: &[PathBuf]) {
    let mut p = pending();
    p.0.retain(|f| !files.iter().any(|(t, _)| t == f));
    p.1.retain(|d| !dirs.contains(d));
}

/// Remove what an interrupted run leaves: every staged temporary, the
/// (empty) folders created for them, and this process's scratch folders
/// in the system temporary folder (`qkhw-…-PID…`: simulator builds, C and
/// HLS checks, Yosys runs). For a signal handler; errors are ignored.
pub fn remove_pending() {
    let (files, dirs) = std::mem::take(&mut *pending());
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    let pid = std::process::id().to_string();
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("qkhw-") && name.split('-').any(|part| part == pid) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

use crate::error::{Error, Result};

/// Output files (and folders) of one command, not yet visible.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary, final) paths, in the order they were staged.
    files: Vec<(PathBuf, PathBuf)>,
    /// Folders this command created, outermost first: removed on failure.
    created: Vec<PathBuf>,
    committed: bool,
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".{name}.qkhw-{}.tmp", std::process::id()))
}

/// What an I/O error means for an output path, in words a user acts on.
fn explain(path: &Path, e: std::io::Error) -> Error {
    let msg = match e.kind() {
        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotADirectory => {
            let file = path.ancestors().find(|a| a.is_file());
            match file {
                Some(f) => format!("{} is a file, not a folder", f.display()),
                None => e.to_string(),
            }
        }
        std::io::ErrorKind::IsADirectory => "is a folder; give a file name".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied (cannot write there)".to_string(),
        // A folder that exists and still says "not found" (/proc, some
        // mounts) refuses new entries.
        std::io::ErrorKind::NotFound => match path.parent().filter(|p| p.is_dir()) {
            Some(p) => format!("cannot be created in {} (the folder exists but the system refuses new entries there)", p.display()),
            None => "its folder does not exist".to_string(),
        },
        _ => e.to_string(),
    };
    Error::Usage(format!("{}: {msg}", path.display()))
}

impl Staged {
    pub fn new() -> Staged {
        Staged::default()
    }

    /// Make sure `dir` exists, remembering the folders created so a failure
    /// removes them again.
    pub fn dir(&mut self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing: Vec<PathBuf> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).map(Path::to_path_buf).collect();
        missing.reverse();
        for m in missing {
            std::fs::create_dir(&m).map_err(|e| explain(&m, e))?;
            pending().1.push(m.clone());
            self.created.push(m);
        }
        if !dir.is_dir() {
            return Err(explain(dir, std::io::Error::from(std::io::ErrorKind::AlreadyExists)));
        }
        Ok(())
    }

    /// Stage `bytes` for `path` (its folder is created if missing).
    pub fn write(&mut self, path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
        self.write_parts(path, &[bytes.as_ref()])
    }

    /// [`Self::write`] of `parts` one after the other (a header and a large
    /// body written where it lies, with no joined copy).
    pub fn write_parts(&mut self, path: &Path, parts: &[&[u8]]) -> Result<()> {
        if path.is_dir() {
            return Err(explain(path, std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir(parent)?;
        }
        if self.files.iter().any(|(_, f)| f == path) {
            return Err(Error::Internal(format!("{} staged twice", path.display())));
        }
        let tmp = temp_name(path);
        pending().0.push(tmp.clone());
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            use std::io::Write;
            parts.iter().try_for_each(|p| f.write_all(p))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            settle(&[(tmp, path.to_path_buf())], &[]);
            return Err(explain(path, e));
        }
        self.files.push((tmp, path.to_path_buf()));
        Ok(())
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(_, f)| f.as_path())
    }

    /// Rename every staged file to its final name.
    pub fn commit(mut self) -> Result<()> {
        for (tmp, dest) in &self.files {
            std::fs::rename(tmp, dest).map_err(|e| explain(dest, e))?;
        }
        self.committed = true;
        settle(&self.files, &self.created);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
        for d in self.created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        settle(&self.files, &self.created);
    }
}

/// Check, before any long work, that `path` can be written: its folder
/// exists and takes a file there. Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(explain(path, std::io::Error::from(std::io::ErrorKind::IsADirectory)));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(explain(path, std::io::Error::from(if parent.exists() { std::io::ErrorKind::NotADirectory } else { std::io::ErrorKind::NotFound })));
    }
    let tmp = temp_name(path);
    std::fs::write(&tmp, b"").map_err(|e| explain(path, e))?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qkhw-staging-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn nothing_visible_until_commit_and_nothing_left_on_drop() {
        let d = scratch("drop");
        {
            let mut s = Staged::new();
            s.write(&d.join("a/b/x.txt"), "x").unwrap();
            assert!(!d.join("a/b/x.txt").exists());
        }
        assert!(!d.exists(), "the folders it created are removed");
        let mut s = Staged::new();
        s.write(&d.join("y.txt"), "y").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(d.join("y.txt")).unwrap(), "y");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "no temporary left");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_named() {
        let d = scratch("file");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), "").unwrap();
        let e = Staged::new().dir(&d.join("f")).unwrap_err().to_string();
        assert!(e.contains("is a file, not a folder"), "{e}");
        let e = check_writable(&d.join("nope/j.xml")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        check_writable(&d.join("ok.xml")).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// /proc/self exists but refuses new entries with "not found": not
    /// "its folder does not exist" (cross-check batch 12).
    #[test]
    fn a_folder_that_refuses_entries_is_not_called_missing() {
        assert!(Path::new("/proc/self").is_dir(), "this test needs /proc (Linux)");
        let e = Staged::new().dir(Path::new("/proc/self/qkhw_x")).unwrap_err().to_string();
        assert!(e.contains("cannot be created in /proc/self") && !e.contains("does not exist"), "{e}");
    }
}
