//! The folder `qkhw gen` writes, for every target. A design folder holds
//! `qkhw-manifest.json`: the files qkhw wrote there, the model they came
//! from (name and SHA-256) and the target. A later `gen` into the same
//! folder deletes exactly the files the previous manifest lists (so no
//! stale `.v` of another model stays beside the new design) and never
//! anything else; a non-empty folder without a manifest is refused unless
//! `--force`. `verify --design` reads the manifest to check that the
//! design belongs to the model it is given.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name.
pub const MANIFEST: &str = "qkhw-manifest.json";

/// What a design folder records about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub model: String,
    pub model_sha256: String,
    pub target: String,
    pub files: Vec<String>,
    /// What the design computes, where `gen` recorded it (manifests of
    /// earlier versions have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub golden: Option<Golden>,
}

/// The golden model a design was generated against: `verify --design`
/// must compare it with that one, not with what its own flags give (a
/// design made with `--config` and checked without it fails on a
/// correct design, blaming a layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Golden {
    /// [`crate::plan::Plan::fingerprint`] of the plan the design computes.
    pub plan_sha256: String,
    /// The `gen` options that chose it (`--config`, `--input-format`,
    /// `--bn`, `--output-head`, `--internal-sigmoid`), for the message.
    pub options: Vec<String>,
}

impl Manifest {
    /// The manifest of `dir`, if it has one (an unreadable one is an error).
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let p = dir.join(MANIFEST);
        if !p.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Usage(format!("{}: not a qkhw manifest ({e}); delete the folder or give --force", p.display())))
    }
}

/// The model a folder must come from, for [`write`] and [`check_model`].
pub struct Origin<'a> {
    pub model: &'a str,
    pub sha256: &'a str,
    pub target: &'a str,
    /// The golden model the design computes (recorded by `gen`, checked
    /// by `verify --design`); `None` records and checks nothing.
    pub golden: Option<&'a Golden>,
}

/// Write `files` (name, contents) into `dir` as one design, atomically:
/// nothing changes unless every file can be written.
pub fn write(dir: &Path, files: &[(String, String)], origin: &Origin, force: bool) -> Result<()> {
    let old = if dir.is_dir() { Manifest::read(dir)? } else { None };
    if dir.is_dir() && old.is_none() && !force {
        let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        if entries.next().is_some() {
            return Err(Error::Usage(format!(
                "{}: the folder is not empty and has no {MANIFEST} (qkhw did not write it); choose an empty folder, or give --force to write into it anyway",
                dir.display()
            )));
        }
    }
    let mut out = crate::staging::Staged::new();
    out.dir(dir)?;
    for (name, text) in files {
        if name.contains('/') || name.contains('\\') || name == MANIFEST {
            return Err(Error::Internal(format!("design file name `{name}`")));
        }
        out.write(&dir.join(name), text)?;
    }
    let m = Manifest {
        generator: format!("qkhw {}", env!("CARGO_PKG_VERSION")),
        model: origin.model.to_string(),
        model_sha256: origin.sha256.to_string(),
        target: origin.target.to_string(),
        files: files.iter().map(|f| f.0.clone()).collect(),
        golden: origin.golden.cloned(),
    };
    let text = serde_json::to_string_pretty(&m).map_err(|e| Error::Internal(e.to_string()))? + "\n";
    out.write(&dir.join(MANIFEST), text)?;
    out.commit()?;
    if let Some(old) = old {
        remove_stale(dir, &old.files, &m.files)?;
    }
    Ok(())
}

/// Delete from `dir` the files an earlier manifest listed (`old`) that
/// the new one does not (`new`): only plain names, never a path outside.
pub fn remove_stale(dir: &Path, old: &[String], new: &[String]) -> Result<()> {
    for f in old.iter().filter(|f| !new.contains(f)) {
        if f.contains('/') || f.contains('\\') || f.starts_with('.') {
            continue;
        }
        let p = dir.join(f);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// Add files to a folder [`write`] made (the `gen --synth` reports) and
/// list them in its manifest, so that a later `gen` removes them like
/// the rest; all written together or not at all.
pub fn add(dir: &Path, files: &[(String, String)]) -> Result<()> {
    let mut m = Manifest::read(dir)?.ok_or_else(|| Error::Internal(format!("{}: no {MANIFEST} to add to", dir.display())))?;
    let mut out = crate::staging::Staged::new();
    for (name, text) in files {
        if name.contains('/') || name.contains('\\') || name == MANIFEST {
            return Err(Error::Internal(format!("design file name `{name}`")));
        }
        out.write(&dir.join(name), text)?;
        if !m.files.contains(name) {
            m.files.push(name.clone());
        }
    }
    let text = serde_json::to_string_pretty(&m).map_err(|e| Error::Internal(e.to_string()))? + "\n";
    out.write(&dir.join(MANIFEST), text)?;
    out.commit()
}

/// A design folder must come from the model it is checked against.
pub fn check_model(dir: &Path, origin: &Origin) -> Result<()> {
    if let Some(m) = Manifest::read(dir)? {
        if m.model_sha256 != origin.sha256 {
            let d = dir.display();
            return Err(Error::Usage(if m.model == origin.model {
                // Keras names models `functional` or `sequential` by
                // default: the name alone does not tell them apart.
                format!(
                    "{d}: this design was generated from another model also named `{}` (sha256 {}; this one's is {}): generate it from this model with `qkhw gen`, or give the model it came from",
                    m.model, m.model_sha256, origin.sha256
                )
            } else {
                format!("{d}: this design was generated from {} (sha256 {}), not from {} (sha256 {})", m.model, m.model_sha256, origin.model, origin.sha256)
            }));
        }
        if m.target != origin.target {
            return Err(Error::Usage(format!("{}: this is a {} design, not {}", dir.display(), m.target, origin.target)));
        }
        // A plan's fingerprint is this version's lowering: a design from
        // another version is checked by its model alone.
        let this_version = m.generator == format!("qkhw {}", env!("CARGO_PKG_VERSION"));
        if let (Some(made), Some(asked), true) = (&m.golden, origin.golden, this_version)
            && made.plan_sha256 != asked.plan_sha256
        {
            let flags = |o: &[String]| if o.is_empty() { "none".to_string() } else { format!("`{}`", o.join(" ")) };
            return Err(Error::Usage(if made.options == asked.options {
                format!(
                    "{}: this design computes another golden model than these options give now (gen had the same options, {}: a file they name, such as the --config, changed since): generate the design again, or give the options it was made with",
                    dir.display(),
                    flags(&made.options)
                )
            } else {
                format!(
                    "{}: this design computes another golden model than these options give (gen's options: {}; here: {}): give verify the options the design was generated with",
                    dir.display(),
                    flags(&made.options),
                    flags(&asked.options)
                )
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("qkhw-folder-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    const A: Origin = Origin { model: "a.keras", sha256: "aa", target: "verilog", golden: None };
    const B: Origin = Origin { model: "b.keras", sha256: "bb", target: "verilog", golden: None };

    #[test]
    fn added_files_are_listed_and_removed_by_the_next_gen() {
        let d = scratch("add");
        write(&d, &[("a.v".into(), "a".into())], &A, false).unwrap();
        add(&d, &[("synth.txt".into(), "t".into())]).unwrap();
        assert_eq!(Manifest::read(&d).unwrap().unwrap().files, ["a.v", "synth.txt"]);
        write(&d, &[("a.v".into(), "a".into())], &A, false).unwrap();
        assert!(!d.join("synth.txt").exists(), "a stale synth report outlives the design it measured");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn second_gen_removes_only_what_the_first_wrote() {
        let d = scratch("regen");
        write(&d, &[("a.v".into(), "a".into()), ("a.core".into(), "c".into())], &A, false).unwrap();
        std::fs::write(d.join("mine.txt"), "user file").unwrap();
        write(&d, &[("b.v".into(), "b".into())], &B, false).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["b.v", "mine.txt", MANIFEST]);
        assert!(check_model(&d, &B).is_ok());
        let e = check_model(&d, &A).unwrap_err().to_string();
        assert!(e.contains("generated from b.keras (sha256 bb)"), "{e}");
        // Two models with Keras's default name differ by their hashes only.
        let other = Origin { model: "b.keras", sha256: "cc", target: "verilog", golden: None };
        let e = check_model(&d, &other).unwrap_err().to_string();
        assert!(e.contains("another model also named `b.keras` (sha256 bb; this one's is cc)"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The golden model a design records: another plan is refused naming
    /// both sides' options (or, with the same options, what changed); a
    /// design of another qkhw version, whose lowering may differ, is
    /// checked by its model alone.
    #[test]
    fn the_golden_model_is_checked_in_this_version() {
        let d = scratch("golden");
        let made = Golden { plan_sha256: "p1".into(), options: vec!["--config".into(), "c.toml".into()] };
        write(&d, &[("a.v".into(), "a".into())], &Origin { golden: Some(&made), ..A }, false).unwrap();
        let same = Golden { plan_sha256: "p1".into(), options: vec![] };
        assert!(check_model(&d, &Origin { golden: Some(&same), ..A }).is_ok(), "the plan decides, not the options' text");
        let other = Golden { plan_sha256: "p2".into(), options: vec![] };
        let e = check_model(&d, &Origin { golden: Some(&other), ..A }).unwrap_err().to_string();
        assert!(e.contains("(gen's options: `--config c.toml`; here: none)"), "{e}");
        let edited = Golden { plan_sha256: "p2".into(), options: made.options.clone() };
        let e = check_model(&d, &Origin { golden: Some(&edited), ..A }).unwrap_err().to_string();
        assert!(e.contains("gen had the same options, `--config c.toml`: a file they name, such as the --config, changed since"), "{e}");
        let mut m = Manifest::read(&d).unwrap().unwrap();
        m.generator = "qkhw 0.0.0".into();
        std::fs::write(d.join(MANIFEST), serde_json::to_string(&m).unwrap()).unwrap();
        assert!(check_model(&d, &Origin { golden: Some(&other), ..A }).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_foreign_folder_needs_force() {
        let d = scratch("foreign");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("keep.v"), "x").unwrap();
        let e = write(&d, &[("a.v".into(), "a".into())], &A, false).unwrap_err().to_string();
        assert!(e.contains("--force"), "{e}");
        assert!(!d.join("a.v").exists());
        write(&d, &[("a.v".into(), "a".into())], &A, true).unwrap();
        assert!(d.join("keep.v").exists() && d.join("a.v").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
