//! Errors: one typed error with a stable RTM code, converted to a JS error in exactly one place
//! (the addon) and to an error frame in exactly one place ([`crate::protocol`]).

use std::fmt;

pub use crate::error_codes::ErrorCode;

/// A failed operation: the RTM code and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub reason: String,
}

/// Result of an engine operation.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Error { code, reason: reason.into() }
    }

    /// `RTM_ERROR_INVALID_PARAMETER` with a reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidParameter, reason)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.reason)
    }
}

impl std::error::Error for Error {}

impl ErrorCode {
    /// A one-line description for the error table in the docs.
    pub fn describe(self) -> String {
        let name = self.name().trim_start_matches("RTM_ERROR_");
        let mut text = name.replace('_', " ").to_lowercase();
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text
    }
}
