//! The one place engine errors become JavaScript-visible: a JSON string the JS layer turns
//! into an `Error` carrying `{ error, operation, errorCode, reason, code }`.

use piazza_engine::Error;

/// `{"code":-10002,"name":"RTM_ERROR_NOT_LOGIN","reason":"…"}`.
pub fn encode(error: &Error) -> String {
    serde_json::json!({ "code": error.code.code(), "name": error.code.name(), "reason": error.reason }).to_string()
}

/// A rejected native promise (async methods): the message is the JSON of [`encode`].
pub fn to_napi(error: &Error) -> napi::Error {
    napi::Error::from_reason(encode(error))
}
