'use strict'
// lib/stream.js: RTMStreamChannel (RTM stream channels): join/leave/release, topics, and
// topic subscriptions, with the local list of subscribed publishers getSubscribedUserList
// answers. Requests go through the client's internal interface, rtm[LINK] (lib/link.js).

const { ErrorCode, invalid, checkString, checkOptions, checkPayload, bool } = require('./errors')
const { LINK } = require('./link')

function checkTopic (operation, topic) {
  if (typeof topic !== 'string') throw invalid(operation, 'topicName must be a string')
}

function checkUsers (operation, options) {
  const o = checkOptions(operation, options)
  if (o.users === undefined) return undefined
  if (!Array.isArray(o.users) || !o.users.every((u) => typeof u === 'string')) {
    throw invalid(operation, 'users must be an array of strings')
  }
  return o.users
}

class RTMStreamChannel {
  constructor (rtm, channelName) {
    this._rtm = rtm
    this.channelName = channelName
    this._released = false
    /** topic -> Set of publishers subscribed (what getSubscribedUserList answers). */
    this._subscribed = new Map()
  }

  _check (operation) {
    if (this._released) {
      throw invalid(operation, `stream channel ${JSON.stringify(this.channelName)} was released; create a new instance`, ErrorCode.RTM_ERROR_INSTANCE_ALREADY_RELEASED)
    }
  }

  /** A request of this channel: rejects once the instance is released. */
  _request (operation, submit) {
    return this._rtm[LINK].request(operation, (native, tag) => {
      this._check(operation)
      return submit(native, tag)
    })
  }

  /** Joins the channel: presence and topic SNAPSHOTs arrive, others see REMOTE_JOIN. */
  join (options) {
    return this._request('join', (native, tag) => {
      const o = checkOptions('join', options)
      if (o.token !== undefined && typeof o.token !== 'string') throw invalid('join', 'token must be a string')
      return native.join(tag, this.channelName, {
        token: o.token,
        withPresence: bool(o.withPresence, true),
        beQuiet: bool(o.beQuiet, false),
        withMetadata: bool(o.withMetadata, false),
        withLock: bool(o.withLock, false),
      })
    }).then((r) => { this._subscribed.clear(); return r })
  }

  /** Leaves: every publisher role and subscription is dropped. */
  leave () {
    return this._request('leave', (native, tag) => native.leave(tag, this.channelName))
      .then((r) => { this._subscribed.clear(); return r })
  }

  /** Leaves if joined and frees the instance; every later call rejects with INSTANCE_ALREADY_RELEASED. */
  release () {
    try {
      this._check('release')
    } catch (e) {
      return Promise.reject(e)
    }
    const leaving = this.leave().catch(() => null)
    this._released = true
    return leaving.then(() => ({ timestamp: Date.now(), channelName: this.channelName }))
  }

  /** Registers as a publisher of `topicName` (≤ 8 per channel). */
  joinTopic (topicName, options) {
    return this._request('joinTopic', (native, tag) => {
      checkTopic('joinTopic', topicName)
      const o = checkOptions('joinTopic', options)
      const meta = o.meta === undefined ? '' : (typeof o.meta === 'string' ? o.meta : JSON.stringify(o.meta))
      return native.joinTopic(tag, this.channelName, topicName, meta)
    })
  }

  leaveTopic (topicName) {
    return this._request('leaveTopic', (native, tag) => {
      checkTopic('leaveTopic', topicName)
      return native.leaveTopic(tag, this.channelName, topicName)
    })
  }

  /** Publishes to the users subscribed to this user in `topicName`. */
  publishTopicMessage (topicName, message, options) {
    const op = 'publishTopicMessage'
    return this._request(op, (native, tag) => {
      checkTopic(op, topicName)
      const payload = checkPayload(op, message)
      const o = checkOptions(op, options)
      const customType = o.customType === undefined ? '' : o.customType
      checkString(op, customType, 'customType')
      return native.publishTopic(tag, this.channelName, topicName, payload, customType)
    })
  }

  /** Subscribes to publishers of a topic (incremental; without `users`, up to 64 current publishers). */
  subscribeTopic (topicName, options) {
    return this._request('subscribeTopic', (native, tag) => {
      checkTopic('subscribeTopic', topicName)
      return native.subscribeTopic(tag, this.channelName, topicName, checkUsers('subscribeTopic', options))
    }).then((r) => {
      let set = this._subscribed.get(topicName)
      if (!set) this._subscribed.set(topicName, (set = new Set()))
      for (const user of r.succeedUsers) set.add(user)
      return r
    })
  }

  /** Unsubscribes from the given publishers, or (without `users`) from the whole topic. */
  unsubscribeTopic (topicName, options) {
    let users
    return this._request('unsubscribeTopic', (native, tag) => {
      checkTopic('unsubscribeTopic', topicName)
      users = checkUsers('unsubscribeTopic', options)
      return native.unsubscribeTopic(tag, this.channelName, topicName, users)
    }).then((r) => {
      const set = this._subscribed.get(topicName)
      if (users === undefined) this._subscribed.delete(topicName)
      else if (set) for (const user of users) set.delete(user)
      return r
    })
  }

  /** The publishers this client subscribed to in `topicName` (synchronous). */
  getSubscribedUserList (topicName) {
    this._check('getSubscribedUserList')
    checkTopic('getSubscribedUserList', topicName)
    return { timestamp: Date.now(), topicName, subscribed: [...(this._subscribed.get(topicName) || [])] }
  }
}

module.exports = { RTMStreamChannel }
