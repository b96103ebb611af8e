//! The one error type. Every variant says where (file, layer, spec position)
//! and what would have been accepted, because users act on these messages.

use std::path::PathBuf;

/// Every error qkhw reports: user input (spec, model, file, usage),
/// external tools, and qkhw's own bugs ([`Error::Internal`]) are different
/// variants, each with the context a user acts on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A quantizer spec that does not parse or names nothing QKeras has.
    #[error("quantizer spec `{spec}`, at character {pos}: {msg}")]
    Spec { spec: String, pos: usize, msg: String },

    /// A spec that parses but whose parameters QKeras would reject or that
    /// has no deterministic (inference) meaning.
    #[error("quantizer `{spec}`: {msg}")]
    Quantizer { spec: String, msg: String },

    /// Applying a quantizer to data failed (shape, per-channel sizes).
    #[error("applying `{spec}`: {msg}")]
    Apply { spec: String, msg: String },

    /// A bad `.npy` file.
    #[error("{path}: {msg}")]
    Npy { path: PathBuf, msg: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// An impossible fixed-point format.
    #[error("fixed-point format: {0}")]
    Format(String),

    /// A model file that cannot be read, or a layer qkhw cannot place.
    #[error("{}: {}{msg}", path.display(), layer.as_ref().map(|l| format!("layer `{l}`: ")).unwrap_or_default())]
    Model { path: PathBuf, layer: Option<String>, msg: String },

    /// A command-line value that is not valid.
    #[error("{0}")]
    Usage(String),

    /// An external tool (compiler, simulator, synthesis) failed or is missing.
    #[error("{tool}: {msg}")]
    Tool { tool: String, msg: String },

    /// An askama template failed to render: a bug in qkhw (the templates
    /// are compiled in), reported with the template's own message.
    #[error("internal error (a bug in qkhw; please report it): template: {0}")]
    Template(#[from] askama::Error),

    /// A bug in qkhw itself, not in the user's input: please report it.
    #[error("internal error (a bug in qkhw; please report it): {0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// Give a quantizer or format error the model file and layer it came from.
pub trait Context<T> {
    fn in_layer(self, path: &std::path::Path, layer: &str) -> Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn in_layer(self, path: &std::path::Path, layer: &str) -> Result<T> {
        self.map_err(|e| match e {
            e @ Error::Model { .. } => e,
            e => Error::Model { path: path.to_path_buf(), layer: Some(layer.to_string()), msg: e.to_string() },
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
