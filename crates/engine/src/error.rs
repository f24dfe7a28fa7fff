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
    /// Whether this is a TRTC room code (`ERR_*`, reported through `onEnterRoom` / `onError`).
    pub fn is_trtc(self) -> bool {
        self.name().starts_with("ERR_")
    }
}

/// The error tables as Markdown (the body of `docs/ERRORS.md`).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "## RTM (rejections of RTM calls, `ErrorCode`)\n\n| code | name | meaning |\n| ---: | --- | --- |\n",
    );
    for code in ErrorCode::ALL.iter().filter(|c| !c.is_trtc()) {
        out.push_str(&format!("| {} | `{}` | {} |\n", code.code(), code.name(), code.describe()));
    }
    out.push_str("\n## TRTC (`onEnterRoom(result < 0)`, `onError`, `onSwitchRole`, `onSwitchRoom`; `TRTCErrorCode`)\n\n| code | name | meaning |\n| ---: | --- | --- |\n");
    for code in ErrorCode::ALL.iter().filter(|c| c.is_trtc()) {
        out.push_str(&format!("| {} | `{}` | {} |\n", code.code(), code.name(), code.describe()));
    }
    out.push_str("\n## TRTC warnings (`onWarning(code, message)`; `TRTCWarningCode`)\n\n| code | name | meaning |\n| ---: | --- | --- |\n");
    out.push_str(&format!(
        "| {} | `WARNING_USER_SIG_WILL_EXPIRE` | TRTC (Piazza): the userSig of the room session expires in 30 s; `renewUserSig(userSig)` keeps the session, else `onError(-70001)` then `onExitRoom(0)`. |\n",
        crate::client::trtc::WARNING_USER_SIG_WILL_EXPIRE
    ));
    out
}
