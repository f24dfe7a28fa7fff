// The error codes and RTMError of the browser client: the same codes, names and Error shape
// as the Node package (lib/errors.js), so code that handles one handles the other. The table
// is the engine's (codes.generated.ts, written by web/build.mjs from the addon's errorTable()).

import { CODES } from './codes.generated'

/** name -> code for RTM codes (RTM_ERROR_*). */
export const ErrorCode: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(CODES.filter(([name]) => name.startsWith('RTM_')))
)
/** name -> code for TRTC codes (ERR_*). */
export const TRTCErrorCode: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(CODES.filter(([name]) => name.startsWith('ERR_')))
)
const NAMES = new Map<number, string>(CODES.map(([name, code]) => [code, name]))
const TRTC_CODES = new Set<number>(Object.values(TRTCErrorCode))

/** The symbolic name of a code ('RTM_ERROR_UNKNOWN' when unknown). */
export function codeName (code: number): string {
  return NAMES.get(code) ?? 'RTM_ERROR_UNKNOWN'
}

/** Whether `code` is a TRTC code (onEnterRoom / onError). */
export function isTrtcCode (code: number): boolean {
  return TRTC_CODES.has(code)
}

/** An Error carrying the RTM ErrorInfo fields, with `code` = `errorCode` (as RTMBaseError). */
export class RTMError extends Error {
  readonly error = true as const
  operation: string
  errorCode: number
  code: number
  reason: string
  constructor (operation: string, errorCode: number, reason: string, codeNameGiven?: string) {
    super(`${codeNameGiven || codeName(errorCode)}: ${reason}`)
    this.name = 'RTMError'
    this.operation = operation
    this.errorCode = errorCode
    this.code = errorCode
    this.reason = reason
  }
}

/** An RTMError for a bad argument (INVALID_PARAMETER unless `code` says otherwise). */
export function invalid (operation: string, reason: string, code: number = ErrorCode.RTM_ERROR_INVALID_PARAMETER): RTMError {
  return new RTMError(operation, code, reason)
}

export function checkString (operation: string, value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw invalid(operation, `${what} must be a string, got ${typeof value}`)
}

/** An options argument: undefined gives {}, anything but an object throws. */
export function checkOptions (operation: string, options: unknown): Record<string, unknown> {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalid(operation, 'options must be an object')
  }
  return (options || {}) as Record<string, unknown>
}

/** A boolean option with its default. */
export function bool (value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : Boolean(value)
}

// ---- names (crates/engine/src/names.rs: one rule set for client and server)

const NAME_CHARS = /^[A-Za-z0-9 !#$%&()+,\-:;<=>?@[\]^_{}~|]+$/
const ROOM_ID_CHARS = /^[A-Za-z0-9 !#$%&()+\-:;<=.>?@[\]^_{}|~,]+$/

/** Checks a channel / user / topic / lock name or scope; throws RTMError with `code`. */
export function checkName (operation: string, name: string, what: string, code: number): void {
  let problem = ''
  if (name === '') problem = 'must not be empty'
  else if (name.length > 64) problem = `is ${name.length} characters long; at most 64 are allowed`
  else if (name.startsWith('_')) problem = "must not start with '_'"
  else if (!NAME_CHARS.test(name)) problem = 'contains a character that is not allowed; allowed are letters, digits, space and !#$%&()+,-:;<=>?@[]^_{}~|'
  if (problem) throw new RTMError(operation, code, `${what} ${JSON.stringify(name)} ${problem}`)
}

export const channelName = (op: string, name: string): void => checkName(op, name, 'channel name', ErrorCode.RTM_ERROR_INVALID_CHANNEL_NAME)
export const userIdName = (op: string, name: string): void => checkName(op, name, 'user id', ErrorCode.RTM_ERROR_INVALID_USER_ID)
export const topicName = (op: string, name: string): void => checkName(op, name, 'topic name', ErrorCode.RTM_ERROR_CHANNEL_INVALID_TOPIC_NAME)
export const lockName = (op: string, name: string): void => checkName(op, name, 'lock name', ErrorCode.RTM_ERROR_LOCK_INVALID_NAME)
export const scopeName = (op: string, name: string): void => checkName(op, name, 'realtime scope', ErrorCode.RTM_ERROR_INVALID_CHANNEL_NAME)

/** Why a strRoomId is refused, or ''. */
export function strRoomIdProblem (id: string): string {
  const bytes = new TextEncoder().encode(id).length
  if (bytes === 0 || bytes > 64) return `strRoomId ${JSON.stringify(id)} is ${bytes} bytes long; 1 to 64 are allowed`
  if (!ROOM_ID_CHARS.test(id)) return `strRoomId ${JSON.stringify(id)} contains a character that is not allowed`
  return ''
}

/** A customType: at most 32 bytes. */
export function checkCustomType (operation: string, value: string): void {
  const n = new TextEncoder().encode(value).length
  if (n > 32) throw new RTMError(operation, ErrorCode.RTM_ERROR_CHANNEL_CUSTOM_TYPE_LENGTH_OVERFLOW, `customType is ${n} bytes; at most 32 are allowed`)
}

/** Reports an exception thrown by a listener; the others still run. */
let listenerErrors = 0
export function reportListenerError (err: unknown, what: string): void {
  listenerErrors++
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError
  if (report) report(err)
  else console.error(`piazza-rtc/web: a ${what} listener threw`, err)
}
export const listenerErrorCount = (): number => listenerErrors
