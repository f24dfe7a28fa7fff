'use strict'
// lib/history.js: RTMHistory (RTM `rtm.history`): the messages kept by `publish(…, {
// storeInHistory: true })` in a message channel or a user channel, newest first, a page at a
// time (`newStart` is the next page's `start`, 0 when there is none). A 'USER' history holds the
// messages published to user `channelName`; only that user may read it. One protocol request
// through the client's internal interface, rtm[LINK] (lib/link.js); payloads come back in their
// type: a string, or a Uint8Array for BINARY messages (base64 in the native answer).

const { ErrorCode, invalid, checkString, checkOptions } = require('./errors')
const { LINK } = require('./link')

const HISTORY_CHANNEL_TYPES = new Set(['MESSAGE', 'USER'])

/** An optional non-negative integer option. */
function count (operation, value, what, fallback) {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(operation, `${what} must be a non-negative integer, got ${JSON.stringify(value)}`)
  return value
}

/** A history message in the SDK's shape: a BINARY payload (base64 in the answer) as a Uint8Array. */
function fromNativeMessage (m) {
  // A plain Uint8Array over a copy (not a Buffer, not a view into Node's shared pool).
  const message = m.messageType === 'BINARY' && typeof m.message === 'string' ? new Uint8Array(Buffer.from(m.message, 'base64')) : m.message
  return { message, messageType: m.messageType, customType: m.customType, publisher: m.publisher, timestamp: m.timestamp }
}

class RTMHistory {
  constructor (rtm) {
    this._rtm = rtm
  }

  /**
   * A page of a channel's history, newest first: at most `messageCount` (default 100, or the
   * server's `storage.maxHistoryPage` when smaller) messages
   * from `start` (the newer bound, ms; 0 = now) back to `end` (the older bound; 0 = the oldest).
   */
  getMessages (channelName, channelType, options) {
    return this._rtm[LINK].request('getMessages', (native, tag) => {
      checkString('getMessages', channelName, 'channelName')
      if (!HISTORY_CHANNEL_TYPES.has(channelType)) {
        throw invalid('getMessages', `channelType must be 'MESSAGE' or 'USER', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
      }
      const o = checkOptions('getMessages', options)
      return native.getMessages(tag, channelName, channelType, {
        // Absent: the server's default page (100, or its maxHistoryPage when smaller).
        messageCount: o.messageCount === undefined ? undefined : count('getMessages', o.messageCount, 'messageCount', 100),
        start: count('getMessages', o.start, 'start', 0),
        end: count('getMessages', o.end, 'end', 0),
      })
    }).then((r) => ({ ...r, messageList: r.messageList.map(fromNativeMessage) }))
  }
}

module.exports = { RTMHistory }
