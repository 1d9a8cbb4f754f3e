//! One error type for the whole crate. Each variant maps to the Python exception PyTorch raises
//! for the same misuse; messages name the op and the shapes or values involved.

/// The crate's error. `Runtime` ↔ RuntimeError, `Index` ↔ IndexError, `Type` ↔ TypeError,
/// `Value` ↔ ValueError, `NotImplemented` ↔ NotImplementedError.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Type(String),
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    NotImplemented(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// `rt_err!("fmt", args)` builds an `Error::Runtime`.
#[macro_export]
macro_rules! rt_err {
    ($($arg:tt)*) => { $crate::error::Error::Runtime(format!($($arg)*)) };
}

/// `bail!(kind, "fmt", args)` returns early with an error of the given variant.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::rt_err!($($arg)*)) };
}

pub fn index_err(msg: impl Into<String>) -> Error {
    Error::Index(msg.into())
}
pub fn type_err(msg: impl Into<String>) -> Error {
    Error::Type(msg.into())
}
pub fn value_err(msg: impl Into<String>) -> Error {
    Error::Value(msg.into())
}
