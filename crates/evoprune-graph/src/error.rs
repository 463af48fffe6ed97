//! Errors: each names the file, the node (name and op type) or the tensor at fault.

use std::path::PathBuf;

/// What went wrong reading, checking or running a network.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid ONNX model (protobuf that does not parse, a missing field).
    #[error("{file}: {reason}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A node whose op type is outside the supported set.
    #[error(
        "{file}: node \"{node}\" has op type {op_type}, which evoprune does not support (supported: {supported})"
    )]
    Unsupported {
        /// The file.
        file: String,
        /// The node's name.
        node: String,
        /// The op type.
        op_type: String,
        /// The supported op types.
        supported: String,
    },
    /// A node that is supported but used in a way that is not (an attribute value, a dynamic
    /// shape, inconsistent input shapes).
    #[error("{file}: node \"{node}\" ({op_type}): {reason}")]
    Node {
        /// The file (or "graph" for graphs built in memory).
        file: String,
        /// The node's name.
        node: String,
        /// The op type.
        op_type: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor (initializer, input) that is malformed: wrong size, bad type, too large.
    #[error("{file}: tensor \"{tensor}\": {reason}")]
    Tensor {
        /// The file.
        file: String,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// The data a network is trained or scored on could not be read.
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// Bad input to an API call (a mask of the wrong length, an input of the wrong shape).
    #[error("{what}: {reason}")]
    Invalid {
        /// The argument or field.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

impl GraphError {
    /// An invalid-argument error.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        GraphError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = GraphError> = std::result::Result<T, E>;
