'use strict'
// lib/server.js: Server, an embedded Piazza server node (Server.start), and its admin calls
// (the TRTC server API's RemoveUser and DismissRoom). An open server holds the process alive
// (lib/keepalive.js) until it is closed.

const native = require('./native')
const { fromNative, invalid, PiazzaAdminError } = require('./errors')
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
