'use strict'
// lib/presence.js: RTMPresence (RTM `rtm.presence`): who is in a channel, where a user is, and
// temporary user states. Each call is one protocol request through the client's internal
// interface, rtm[LINK] (lib/link.js); this module holds the argument checks and frame shapes.

const { ErrorCode, invalid, checkString, checkOptions, bool } = require('./errors')
const { LINK } = require('./link')

const PRESENCE_CHANNEL_TYPES = new Set(['MESSAGE', 'STREAM'])

function checkChannelType (operation, channelType) {
  if (!PRESENCE_CHANNEL_TYPES.has(channelType)) {
    throw invalid(operation, `channelType must be 'MESSAGE' or 'STREAM', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
  }
}

function checkStates (operation, states) {
  if (states === null || typeof states !== 'object' || Array.isArray(states)) {
    throw invalid(operation, 'state must be an object of string values', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
  }
  for (const [key, value] of Object.entries(states)) {
    if (typeof value !== 'string') {
      throw invalid(operation, `the value of state ${JSON.stringify(key)} must be a string, got ${typeof value}`, ErrorCode.RTM_ERROR_PRESENCE_INVALID_STATE_VALUE)
    }
  }
}

class RTMPresence {
  constructor (rtm) {
    this._rtm = rtm
  }

  /** Who is in a channel: pages of 50, `nextPage` '' on the last one. */
  whoNow (channelName, channelType, options) {
    return this._rtm[LINK].request('whoNow', (native, tag) => {
      checkString('whoNow', channelName, 'channelName')
      checkChannelType('whoNow', channelType)
      const o = checkOptions('whoNow', options)
      if (o.page !== undefined && typeof o.page !== 'string') throw invalid('whoNow', 'page must be a string')
      return native.whoNow(tag, channelName, channelType, {
        includedUserId: bool(o.includedUserId, true),
        includedState: bool(o.includedState, false),
        page: o.page || undefined,
      })
    })
  }

  getOnlineUsers (channelName, channelType, options) {
    return this.whoNow(channelName, channelType, options)
  }

  /** The channels a user is visibly in. */
  whereNow (userId) {
    return this._rtm[LINK].request('whereNow', (native, tag) => {
      checkString('whereNow', userId, 'userId')
      return native.whereNow(tag, userId)
    })
  }

  getUserChannels (userId) {
    return this.whereNow(userId)
  }

  /** Sets (merges) your temporary states in a channel; before joining, they apply on join. */
  setState (channelName, channelType, state) {
    return this._rtm[LINK].request('setState', (native, tag) => {
      checkString('setState', channelName, 'channelName')
      checkChannelType('setState', channelType)
      checkStates('setState', state)
      return native.setState(tag, channelName, channelType, state)
    })
  }

  /** A user's states in a channel. */
  getState (userId, channelName, channelType) {
    return this._rtm[LINK].request('getState', (native, tag) => {
      checkString('getState', userId, 'userId')
      checkString('getState', channelName, 'channelName')
      checkChannelType('getState', channelType)
      return native.getState(tag, userId, channelName, channelType)
    })
  }

  /** Removes your states: the keys in `options.states`, or all of them. */
  removeState (channelName, channelType, options) {
    return this._rtm[LINK].request('removeState', (native, tag) => {
      checkString('removeState', channelName, 'channelName')
      checkChannelType('removeState', channelType)
      const o = checkOptions('removeState', options)
      if (o.states !== undefined && (!Array.isArray(o.states) || !o.states.every((k) => typeof k === 'string'))) {
        throw invalid('removeState', 'states must be an array of keys', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
      }
      return native.removeState(tag, channelName, channelType, o.states)
    })
  }
}

module.exports = { RTMPresence }
