'use strict'
// lib/unsupported.js: what Agora RTM 2 has and Piazza does not provide yet — storage (channel and
// user metadata), locks and message history. Nothing of it is accepted silently:
// - `rtm.storage`, `rtm.lock`, `rtm.history` exist, and every method on them rejects with
//   RTM_ERROR_SERVICE_NOT_SUPPORTED (a ported `await rtm.storage.getChannelMetadata(…)` gets
//   an RTMError saying so, not a TypeError);
// - `subscribe` / `join` with `withMetadata: true` or `withLock: true`, and `publish` with
//   `storeInHistory: true`, reject with the same code (false, the SDK default, is fine);
// - a `storage` or `lock` listener is accepted (ported code registers them at start-up) and a
//   process warning (code PIAZZA_NOT_SUPPORTED) says once that it never fires.

const { ErrorCode, invalid } = require('./errors')

const REASON = 'storage, locks and message history are not available in Piazza yet'

function notSupported (operation, what) {
  return invalid(operation, `${what}: ${REASON}`, ErrorCode.RTM_ERROR_SERVICE_NOT_SUPPORTED)
}

/** The methods agora-rtm-sdk 2.x has on `rtm.storage`, `rtm.lock` and `rtm.history`. */
const METHODS = {
  storage: ['setChannelMetadata', 'getChannelMetadata', 'removeChannelMetadata', 'updateChannelMetadata',
    'setUserMetadata', 'getUserMetadata', 'removeUserMetadata', 'updateUserMetadata',
    'subscribeUserMetadata', 'unsubscribeUserMetadata'],
  lock: ['setLock', 'getLock', 'removeLock', 'acquireLock', 'releaseLock', 'revokeLock'],
  history: ['getMessages'],
}

/**
 * `rtm.<name>`: a plain frozen object with the SDK's methods, each rejecting with
 * RTM_ERROR_SERVICE_NOT_SUPPORTED (nothing else on it: it serializes, prints and compares as an
 * ordinary object).
 */
function unsupportedApi (name) {
  const api = {}
  for (const method of METHODS[name]) {
    api[method] = () => Promise.reject(notSupported(`${name}.${method}`, `rtm.${name}.${method}`))
  }
  return Object.freeze(api)
}

/** Throws (the caller's promise rejects) for `withMetadata` / `withLock` set to true. */
function checkChannelOptions (operation, options) {
  if (options.withMetadata === true) throw notSupported(operation, 'withMetadata')
  if (options.withLock === true) throw notSupported(operation, 'withLock')
}

/** Throws (the caller's promise rejects) for `storeInHistory: true`. */
function checkPublishOptions (operation, options) {
  if (options.storeInHistory === true) throw notSupported(operation, 'storeInHistory')
}

const warned = new Set()

/** A `storage` or `lock` listener never fires: said once per process. */
function warnNeverFires (eventName) {
  if ((eventName === 'storage' || eventName === 'lock') && !warned.has(eventName)) {
    warned.add(eventName)
    process.emitWarning(`'${eventName}' listeners never fire: ${REASON}`, { code: 'PIAZZA_NOT_SUPPORTED' })
  }
}

module.exports = { unsupportedApi, checkChannelOptions, checkPublishOptions, warnNeverFires }
