'use strict'
// lib/storage.js: RTMStorage (RTM `rtm.storage`): channel metadata (per channel name and type)
// and user metadata, with per-item `revision` and a whole-set `majorRevision` for
// compare-and-set, `lockName`-guarded writes, and user-metadata subscriptions. Each call is one
// protocol request through the client's internal interface, rtm[LINK] (lib/link.js); this module
// holds the argument checks and frame shapes. The answers come from the server in the SDK's
// response shapes; `storage` events go to the client's listeners (lib/rtm.js).

const { ErrorCode, invalid, checkString, checkOptions } = require('./errors')
const { LINK } = require('./link')

const STORAGE_CHANNEL_TYPES = new Set(['MESSAGE', 'STREAM'])

/** A channel type of channel metadata and locks: 'MESSAGE' or 'STREAM'. */
function checkChannelType (operation, channelType) {
  if (!STORAGE_CHANNEL_TYPES.has(channelType)) {
    throw invalid(operation, `channelType must be 'MESSAGE' or 'STREAM', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
  }
}

/** An optional boolean option: absent gives `fallback`, anything but a boolean throws. */
function flag (operation, value, what, fallback = false) {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(operation, `${what} must be a boolean, got ${typeof value}`)
  return value
}

/** A revision: an integer from -1 (no check) up. */
function isRevision (value) {
  return Number.isSafeInteger(value) && value >= -1
}

/**
 * The items of a write: an array of `{ key: string, value?: string, revision?: integer }` with
 * unique keys, as the native items (value '' and revision -1 when absent).
 */
function checkItems (operation, data) {
  if (!Array.isArray(data)) throw invalid(operation, 'data must be an array of metadata items ({ key, value, revision })', ErrorCode.RTM_ERROR_STORAGE_INVALID_ARGUMENT)
  const keys = new Set()
  return data.map((item, i) => {
    const bad = (why) => invalid(operation, `data[${i}]: ${why}`, ErrorCode.RTM_ERROR_STORAGE_INVALID_METADATA_ITEM)
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw bad('an item must be an object { key, value, revision }')
    if (typeof item.key !== 'string') throw bad(`key must be a string, got ${typeof item.key}`)
    if (item.value !== undefined && typeof item.value !== 'string') throw bad(`value must be a string, got ${typeof item.value}`)
    if (item.revision !== undefined && !isRevision(item.revision)) throw bad(`revision must be an integer from -1 up, got ${JSON.stringify(item.revision)}`)
    if (keys.has(item.key)) throw invalid(operation, `data[${i}]: key ${JSON.stringify(item.key)} appears twice`, ErrorCode.RTM_ERROR_STORAGE_DUPLICATE_KEY)
    keys.add(item.key)
    return { key: item.key, value: item.value === undefined ? '' : item.value, revision: item.revision === undefined ? -1 : item.revision }
  })
}

/** MetadataOptions as the native options (every field present). */
function checkMetadataOptions (operation, o) {
  if (o.majorRevision !== undefined && !isRevision(o.majorRevision)) {
    throw invalid(operation, `majorRevision must be an integer from -1 up, got ${JSON.stringify(o.majorRevision)}`)
  }
  if (o.lockName !== undefined) checkString(operation, o.lockName, 'lockName')
  return {
    majorRevision: o.majorRevision === undefined ? -1 : o.majorRevision,
    lockName: o.lockName === undefined ? '' : o.lockName,
    addTimeStamp: flag(operation, o.addTimeStamp, 'addTimeStamp'),
    addUserId: flag(operation, o.addUserId, 'addUserId'),
  }
}

class RTMStorage {
  constructor (rtm) {
    this._rtm = rtm
  }

  /** One channel-metadata write: `mode` 'set', 'update' or 'remove'. */
  _writeChannel (operation, mode, channelName, channelType, data, options) {
    return this._rtm[LINK].request(operation, (native, tag) => {
      checkString(operation, channelName, 'channelName')
      checkChannelType(operation, channelType)
      const o = checkOptions(operation, options)
      const items = mode === 'remove' ? (o.data === undefined ? [] : checkItems(operation, o.data)) : checkItems(operation, data)
      return native.writeMetadata(tag, mode, { channelName, channelType }, items, checkMetadataOptions(operation, o))
    })
  }

  /** One user-metadata write: `options.userId` (default: this user) is whose metadata. */
  _writeUser (operation, mode, data, options) {
    return this._rtm[LINK].request(operation, (native, tag) => {
      const o = checkOptions(operation, options)
      const userId = o.userId === undefined ? this._rtm.userId : o.userId
      checkString(operation, userId, 'userId')
      const items = mode === 'remove' ? (o.data === undefined ? [] : checkItems(operation, o.data)) : checkItems(operation, data)
      return native.writeMetadata(tag, mode, { userId }, items, checkMetadataOptions(operation, o))
    })
  }

  /** Sets items of a channel's metadata (adds or replaces them by key). */
  setChannelMetadata (channelName, channelType, data, options) {
    return this._writeChannel('setChannelMetadata', 'set', channelName, channelType, data, options)
  }

  /** A channel's whole metadata. */
  getChannelMetadata (channelName, channelType) {
    return this._rtm[LINK].request('getChannelMetadata', (native, tag) => {
      checkString('getChannelMetadata', channelName, 'channelName')
      checkChannelType('getChannelMetadata', channelType)
      return native.getMetadata(tag, { channelName, channelType })
    })
  }

  /** Removes the items of `options.data` (by key), or every item without it. */
  removeChannelMetadata (channelName, channelType, options) {
    return this._writeChannel('removeChannelMetadata', 'remove', channelName, channelType, undefined, options)
  }

  /** Changes items of a channel's metadata (by key). */
  updateChannelMetadata (channelName, channelType, data, options) {
    return this._writeChannel('updateChannelMetadata', 'update', channelName, channelType, data, options)
  }

  /** Sets items of a user's metadata (`options.userId`, default this user). */
  setUserMetadata (data, options) {
    return this._writeUser('setUserMetadata', 'set', data, options)
  }

  /** A user's whole metadata (`options.userId`, default this user). */
  getUserMetadata (options) {
    return this._rtm[LINK].request('getUserMetadata', (native, tag) => {
      const o = checkOptions('getUserMetadata', options)
      const userId = o.userId === undefined ? this._rtm.userId : o.userId
      checkString('getUserMetadata', userId, 'userId')
      return native.getMetadata(tag, { userId })
    })
  }

  /** Removes the items of `options.data` (by key), or every item without it, of a user's metadata. */
  removeUserMetadata (options) {
    return this._writeUser('removeUserMetadata', 'remove', undefined, options)
  }

  /** Updates existing items of a user's metadata. */
  updateUserMetadata (data, options) {
    return this._writeUser('updateUserMetadata', 'update', data, options)
  }

  /** `storage` events for a user's metadata: a SNAPSHOT now, then one per change. */
  subscribeUserMetadata (userId) {
    return this._rtm[LINK].request('subscribeUserMetadata', (native, tag) => {
      checkString('subscribeUserMetadata', userId, 'userId')
      return native.subscribeUserMetadata(tag, userId)
    })
  }

  unsubscribeUserMetadata (userId) {
    return this._rtm[LINK].request('unsubscribeUserMetadata', (native, tag) => {
      checkString('unsubscribeUserMetadata', userId, 'userId')
      return native.unsubscribeUserMetadata(tag, userId)
    })
  }
}

module.exports = { RTMStorage, checkChannelType, checkItems, checkMetadataOptions, flag }
