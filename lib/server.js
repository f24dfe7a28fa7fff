'use strict'
// lib/server.js: Server, an embedded Piazza server node (Server.start), and the backend API as
// methods: publish, whoNow / whereNow, channel and user metadata, room members, RemoveUser and
// DismissRoom (the same operations as the HTTP API, docs/openapi.json). An open server holds
// the process alive (lib/keepalive.js) until it is closed.

const native = require('./native')
const { ERROR_NAMES, fromNative, invalid, PiazzaAdminError } = require('./errors')
const { checkItems, checkMetadataOptions } = require('./storage')
const { Hold, holdFinalizer } = require('./keepalive')

/** Runs an admin call: its JSON answer, or a PiazzaAdminError (or RTMError) rejection. */
function adminCall (operation, fn) {
  try {
    return Promise.resolve(JSON.parse(fn()))
  } catch (e) {
    try {
      const info = JSON.parse(e.message)
      if (info && info.admin) return Promise.reject(new PiazzaAdminError(info.admin, info.reason, info.status))
    } catch (_) { /* not ours */ }
    return Promise.reject(fromNative(operation, e))
  }
}

/** Sends one backend-API request (`{ op, ... }`, hub::api::ApiRequest): its answer, or a PiazzaAdminError. */
function apiCall (server, build) {
  let request
  try {
    request = build()
  } catch (e) {
    if (e instanceof PiazzaAdminError) return Promise.reject(e)
    // An argument check of the RTM layer (lib/storage.js): the same refusal, as an admin error.
    const code = (e.errorCode !== undefined && ERROR_NAMES.get(e.errorCode)) || 'InvalidParameter'
    return Promise.reject(new PiazzaAdminError(code, e.reason || e.message, 400))
  }
  return server._native.api(JSON.stringify(request)).then((json) => JSON.parse(json), (e) => {
    let info = null
    try { info = JSON.parse(e.message) } catch (_) { /* not ours */ }
    if (info && info.admin) throw new PiazzaAdminError(info.admin, info.reason, info.status)
    throw e
  })
}

function bad (what) {
  return new PiazzaAdminError('InvalidParameter', what, 400)
}

/** An app id as the API takes it (numbers, as TRTC's SDKAppID, become strings). */
function appOf (appId) {
  if (typeof appId === 'number' && Number.isInteger(appId)) return String(appId)
  if (typeof appId !== 'string') throw new PiazzaAdminError('InvalidParameter.AppId', 'appId must be a string', 400)
  return appId
}

function str (value, what) {
  if (typeof value !== 'string') throw bad(`${what} must be a string, got ${value === null ? 'null' : typeof value}`)
  return value
}

function opts (options, known) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) throw bad('options must be an object')
  const unknown = Object.keys(options).find((k) => !known.includes(k))
  if (unknown !== undefined) throw bad(`unknown option ${JSON.stringify(unknown)} (known: ${known.join(', ')})`)
  return options
}

function bool (value, what) {
  if (value !== undefined && typeof value !== 'boolean') throw bad(`${what} must be a boolean`)
  return value
}

const META_OPTIONS = ['majorRevision', 'lockName', 'addTimeStamp', 'addUserId']

/** A metadata write request: `data` (items), or for a remove `options.data` (absent: every item). */
function metadataWrite (operation, mode, app, target, data, options) {
  const o = opts(options, mode === 'remove' ? [...META_OPTIONS, 'data'] : META_OPTIONS)
  const items = mode === 'remove' ? (o.data === undefined ? [] : checkItems(operation, o.data)) : checkItems(operation, data)
  return { op: 'writeMetadata', appId: app, mode, ...target, items, options: checkMetadataOptions(operation, o) }
}

function storageChannelType (channelType) {
  if (channelType !== 'MESSAGE' && channelType !== 'STREAM') throw bad(`channelType must be 'MESSAGE' or 'STREAM', got ${JSON.stringify(channelType)}`)
  return channelType
}

/** Checks a TRTC room id: a number (roomId) or a string (strRoomId). */
function checkAdminRoom (roomId) {
  if (typeof roomId === 'number') {
    if (!Number.isInteger(roomId) || roomId < 1 || roomId > 4294967294) {
      throw new PiazzaAdminError('InvalidParameter.RoomId', `roomId ${roomId} is not an integer in 1..4294967294`, 400)
    }
  } else if (typeof roomId !== 'string') {
    throw new PiazzaAdminError('InvalidParameter.RoomId', 'roomId must be a number (roomId) or a string (strRoomId)', 400)
  }
}

class Server {
  /** Use Server.start(options). */
  constructor (handle) {
    if (!handle || typeof handle.close !== 'function') throw new TypeError('use Server.start(options)')
    this._native = handle
    this._hold = new Hold()
    this._hold.acquire()
    this._closing = null
    holdFinalizer.register(this, this._hold)
  }

  /** Starts a server. Rejects with RTM_ERROR_INVALID_PARAMETER on bad options. */
  static start (options = {}) {
    let json
    try {
      if (options === null || typeof options !== 'object') throw new Error('options must be an object')
      json = JSON.stringify(options)
    } catch (e) {
      return Promise.reject(invalid('Server.start', e.message))
    }
    return native.startServer(json).then((handle) => new Server(handle), (e) => { throw fromNative('Server.start', e) })
  }

  /** 'ws://host:port'. */
  get url () { return this._native.url }
  get port () { return this._native.port }

  /**
   * TRTC RemoveUser: removes up to 10 users from a room. They get onExitRoom(1), the others
   * onRemoteUserLeaveRoom(userId, 2), and they cannot re-enter for rooms.kickBanSeconds.
   * `roomId` is a number (roomId) or a string (strRoomId): two separate namespaces.
   */
  removeUser (appId, roomId, userIds) {
    return adminCall('removeUser', () => {
      if (typeof appId !== 'string' && typeof appId !== 'number') throw new PiazzaAdminError('InvalidParameter.AppId', 'appId must be a string', 400)
      checkAdminRoom(roomId)
      if (!Array.isArray(userIds) || !userIds.every((u) => typeof u === 'string')) {
        throw new PiazzaAdminError('InvalidParameter.UserIds', 'userIds must be an array of strings', 400)
      }
      return this._native.removeUsers(String(appId), roomId, userIds)
    })
  }

  /** TRTC DismissRoom: every member gets onExitRoom(2) and the room is gone. */
  dismissRoom (appId, roomId) {
    return adminCall('dismissRoom', () => {
      if (typeof appId !== 'string' && typeof appId !== 'number') throw new PiazzaAdminError('InvalidParameter.AppId', 'appId must be a string', 400)
      checkAdminRoom(roomId)
      return this._native.dismissRoom(String(appId), roomId)
    })
  }

  /**
   * Publishes from the backend (RTM publish): to a message channel, or with
   * `{ channelType: 'USER' }` to the online user named by `channelName`. A string is a STRING
   * message, a Uint8Array (Buffer) a BINARY one. `publisher` is the user id receivers see
   * (default 'server').
   */
  publish (appId, channelName, message, options) {
    return apiCall(this, () => {
      const o = opts(options, ['channelType', 'customType', 'storeInHistory', 'publisher'])
      if (o.channelType !== undefined && o.channelType !== 'MESSAGE' && o.channelType !== 'USER') {
        throw bad(`channelType must be 'MESSAGE' or 'USER', got ${JSON.stringify(o.channelType)}`)
      }
      const request = { op: 'publish', appId: appOf(appId), channel: str(channelName, 'channelName'), channelType: o.channelType || 'MESSAGE' }
      if (typeof message === 'string') request.message = message
      else if (message instanceof Uint8Array) request.messageBase64 = Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('base64')
      else throw bad('message must be a string or a Uint8Array')
      if (o.customType !== undefined) request.customType = str(o.customType, 'customType')
      if (bool(o.storeInHistory, 'storeInHistory')) request.storeInHistory = true
      if (o.publisher !== undefined) request.publisher = str(o.publisher, 'publisher')
      return request
    })
  }

  /** presence.whoNow from the backend: 50 users a page (`options.page` is the previous `nextPage`). */
  whoNow (appId, channelName, channelType = 'MESSAGE', options) {
    return apiCall(this, () => {
      const o = opts(options, ['includedUserId', 'includedState', 'page'])
      const request = { op: 'whoNow', appId: appOf(appId), channel: str(channelName, 'channelName'), channelType: storageChannelType(channelType) }
      if (bool(o.includedUserId, 'includedUserId') !== undefined) request.includedUserId = o.includedUserId
      if (bool(o.includedState, 'includedState') !== undefined) request.includedState = o.includedState
      if (o.page !== undefined) request.page = str(o.page, 'page')
      return request
    })
  }

  /** presence.whereNow from the backend: the channels a user is visibly in, on every node. */
  whereNow (appId, userId) {
    return apiCall(this, () => ({ op: 'whereNow', appId: appOf(appId), userId: str(userId, 'userId') }))
  }

  getChannelMetadata (appId, channelName, channelType) {
    return apiCall(this, () => ({ op: 'getMetadata', appId: appOf(appId), channel: str(channelName, 'channelName'), channelType: storageChannelType(channelType) }))
  }

  /** Adds or replaces items by key; `options` as RTMStorage's (the author is 'server'). */
  setChannelMetadata (appId, channelName, channelType, data, options) {
    return this._channelWrite('setChannelMetadata', 'set', appId, channelName, channelType, data, options)
  }

  updateChannelMetadata (appId, channelName, channelType, data, options) {
    return this._channelWrite('updateChannelMetadata', 'update', appId, channelName, channelType, data, options)
  }

  /** Removes the items of `options.data`, or every item. */
  removeChannelMetadata (appId, channelName, channelType, options) {
    return this._channelWrite('removeChannelMetadata', 'remove', appId, channelName, channelType, undefined, options)
  }

  _channelWrite (operation, mode, appId, channelName, channelType, data, options) {
    return apiCall(this, () => metadataWrite(operation, mode, appOf(appId), { channel: str(channelName, 'channelName'), channelType: storageChannelType(channelType) }, data, options))
  }

  getUserMetadata (appId, userId) {
    return apiCall(this, () => ({ op: 'getMetadata', appId: appOf(appId), userId: str(userId, 'userId') }))
  }

  setUserMetadata (appId, userId, data, options) {
    return this._userWrite('setUserMetadata', 'set', appId, userId, data, options)
  }

  updateUserMetadata (appId, userId, data, options) {
    return this._userWrite('updateUserMetadata', 'update', appId, userId, data, options)
  }

  /** Removes the items of `options.data`, or every item. */
  removeUserMetadata (appId, userId, options) {
    return this._userWrite('removeUserMetadata', 'remove', appId, userId, undefined, options)
  }

  _userWrite (operation, mode, appId, userId, data, options) {
    return apiCall(this, () => metadataWrite(operation, mode, appOf(appId), { userId: str(userId, 'userId') }, data, options))
  }

  /** The members of a TRTC room on every node, with their roles ('anchor' | 'audience'). */
  roomMembers (appId, roomId) {
    return apiCall(this, () => {
      checkAdminRoom(roomId)
      return { op: 'roomMembers', appId: appOf(appId), roomId }
    })
  }

  /** This node's counters and its apps with their sizes (what the admin page shows). */
  overview () {
    return apiCall(this, () => ({ op: 'overview' }))
  }

  /** An app's channels on this node, by name, with their member counts (at most 1,000). */
  channels (appId) {
    return apiCall(this, () => ({ op: 'channels', appId: appOf(appId) }))
  }

  /** An app's TRTC rooms on this node with their members and roles (at most 1,000). */
  rooms (appId) {
    return apiCall(this, () => ({ op: 'rooms', appId: appOf(appId) }))
  }

  /** Counters and sizes of this node. */
  stats () {
    return Promise.resolve(JSON.parse(this._native.stats()))
  }

  /** Graceful close: clients are told, queues drain; idempotent. */
  close () {
    if (!this._closing) {
      this._closing = this._native.close().finally(() => this._hold.release())
    }
    return this._closing
  }
}

module.exports = { Server }
