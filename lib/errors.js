'use strict'
// lib/errors.js: the error codes and the Error classes of the public API, and the helpers
// that make them. It is the one place native error JSON becomes a JS Error (the RTM ErrorInfo
// shape), so every module reports bad arguments and refusals the same way.
//
// Holds: the error table (from the engine), ErrorCode (RTM_*), TRTCErrorCode (ERR_*), RTMError,
// fromNative, invalid and the argument checks built on it, and PiazzaAdminError (admin calls).

const native = require('./native')

/** Every code the engine knows: [{ code, name, description }]. */
const ERROR_TABLE = JSON.parse(native.errorTable())
/** name -> numeric RTM error code, e.g. ErrorCode.RTM_ERROR_NOT_LOGIN === -10002. */
const ErrorCode = Object.freeze(Object.fromEntries(ERROR_TABLE.filter((e) => e.name.startsWith('RTM_')).map((e) => [e.name, e.code])))
/** TRTC codes (onEnterRoom(result < 0), onError), e.g. TRTCErrorCode.ERR_ROOM_ID_INVALID === -3318. */
const TRTCErrorCode = Object.freeze(Object.fromEntries(ERROR_TABLE.filter((e) => e.name.startsWith('ERR_')).map((e) => [e.name, e.code])))
/** code -> name, for messages. */
const ERROR_NAMES = new Map(ERROR_TABLE.map((e) => [e.code, e.name]))

/** The public errorTable(): a fresh copy of every row. */
function errorTable () {
  return ERROR_TABLE.map((e) => ({ ...e }))
}

/**
 * An Error carrying the RTM ErrorInfo fields: { error: true, operation, errorCode, reason },
 * plus `code` (= errorCode, as RTMBaseError has it) and `name` of the code in the message.
 */
class RTMError extends Error {
  constructor (operation, errorCode, reason, codeName) {
    const name = codeName || ERROR_NAMES.get(errorCode) || 'RTM_ERROR_UNKNOWN'
    super(`${name}: ${reason}`)
    this.name = 'RTMError'
    this.error = true
    this.operation = operation
    this.errorCode = errorCode
    this.code = errorCode
    this.reason = reason
  }
}

/** Builds an RTMError from native error JSON (or from any thrown value). */
function fromNative (operation, raw) {
  const text = typeof raw === 'string' ? raw : (raw && raw.message) || String(raw)
  try {
    const e = JSON.parse(text)
    if (e && typeof e.code === 'number') return new RTMError(operation, e.code, e.reason, e.name)
  } catch (_) { /* not ours */ }
  return new RTMError(operation, ErrorCode.RTM_ERROR_INVALID_PARAMETER, text)
}

/** An RTMError for a bad argument (RTM_ERROR_INVALID_PARAMETER unless `code` says otherwise). */
function invalid (operation, reason, code = ErrorCode.RTM_ERROR_INVALID_PARAMETER) {
  return new RTMError(operation, code, reason)
}

function checkString (operation, value, what) {
  if (typeof value !== 'string') throw invalid(operation, `${what} must be a string, got ${typeof value}`)
}

/** An options argument: undefined gives {}, anything but an object throws. */
function checkOptions (operation, options) {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalid(operation, 'options must be an object')
  }
  return options || {}
}

/**
 * A message payload: a string or a Uint8Array as it is; an ArrayBuffer or another typed array
 * (the SDK's docs publish an ArrayBuffer) as a Uint8Array over the same bytes.
 */
function checkPayload (operation, message) {
  if (typeof message === 'string' || message instanceof Uint8Array) return message
  if (message instanceof ArrayBuffer) return new Uint8Array(message)
  if (ArrayBuffer.isView(message)) return new Uint8Array(message.buffer, message.byteOffset, message.byteLength)
  throw invalid(operation, 'message must be a string, a Uint8Array or an ArrayBuffer')
}

/** A boolean option with its default. */
function bool (value, fallback) { return value === undefined ? fallback : Boolean(value) }

/** A refused admin call (removeUser, dismissRoom): `code` is the TRTC server-API style code. */
class PiazzaAdminError extends Error {
  constructor (code, message, status) {
    super(`${code}: ${message}`)
    this.name = 'PiazzaAdminError'
    this.code = code
    this.status = status
  }
}

module.exports = {
  ERROR_NAMES,
  ErrorCode,
  TRTCErrorCode,
  errorTable,
  RTMError,
  fromNative,
  invalid,
  checkString,
  checkOptions,
  checkPayload,
  bool,
  PiazzaAdminError,
}
