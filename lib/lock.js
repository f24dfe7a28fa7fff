'use strict'
// lib/lock.js: RTMLock (RTM `rtm.lock`): named distributed locks of a channel. setLock creates
// one (ttl 10–300 s: how long a holder whose connection dropped keeps it), acquireLock takes it
// (with `retry: true` it waits its turn, FIFO), releaseLock gives it back, revokeLock takes it from
// its holder, removeLock deletes it, getLock lists them. Each call is one protocol request
// through the client's internal interface, rtm[LINK] (lib/link.js); `lock` events go to the
// client's listeners (lib/rtm.js).

const { invalid, checkString, checkOptions } = require('./errors')
const { LINK } = require('./link')
const { checkChannelType, flag } = require('./storage')

/** The ttl of setLock when none is given, in seconds. */
const DEFAULT_TTL = 10

class RTMLock {
  constructor (rtm) {
    this._rtm = rtm
  }

  /** One lock operation: `op` 'set', 'remove', 'acquire', 'release' or 'revoke'. */
  _lock (operation, op, channelName, channelType, lockName, options) {
    return this._rtm[LINK].request(operation, (native, tag) => {
      checkString(operation, channelName, 'channelName')
      checkChannelType(operation, channelType)
      checkString(operation, lockName, 'lockName')
      return native.lock(tag, op, channelName, channelType, lockName, options())
    })
  }

  /** Creates a lock (`options.ttl`: seconds, 10–300, default 10). */
  setLock (channelName, channelType, lockName, options) {
    return this._lock('setLock', 'set', channelName, channelType, lockName, () => {
      const o = checkOptions('setLock', options)
      if (o.ttl !== undefined && !Number.isSafeInteger(o.ttl)) throw invalid('setLock', `ttl must be an integer number of seconds, got ${JSON.stringify(o.ttl)}`)
      return { ttl: o.ttl === undefined ? DEFAULT_TTL : o.ttl, retry: false, owner: '' }
    })
  }

  /** Deletes a lock (its holder loses it). */
  removeLock (channelName, channelType, lockName) {
    return this._lock('removeLock', 'remove', channelName, channelType, lockName, () => ({ ttl: DEFAULT_TTL, retry: false, owner: '' }))
  }

  /**
   * Takes a lock. Held by another: rejects with RTM_ERROR_LOCK_ACQUIRE_FAILED, or with
   * `options.retry` waits (first come, first served) until it is free.
   */
  acquireLock (channelName, channelType, lockName, options) {
    return this._lock('acquireLock', 'acquire', channelName, channelType, lockName, () => {
      const o = checkOptions('acquireLock', options)
      return { ttl: DEFAULT_TTL, retry: flag('acquireLock', o.retry, 'retry'), owner: '' }
    })
  }

  /** Gives a held lock back. */
  releaseLock (channelName, channelType, lockName) {
    return this._lock('releaseLock', 'release', channelName, channelType, lockName, () => ({ ttl: DEFAULT_TTL, retry: false, owner: '' }))
  }

  /** Takes a lock away from its holder `owner`. */
  revokeLock (channelName, channelType, lockName, owner) {
    return this._lock('revokeLock', 'revoke', channelName, channelType, lockName, () => {
      checkString('revokeLock', owner, 'owner')
      return { ttl: DEFAULT_TTL, retry: false, owner }
    })
  }

  /** The locks of a channel, with their holders ('' when free) and ttls. */
  getLock (channelName, channelType) {
    return this._rtm[LINK].request('getLock', (native, tag) => {
      checkString('getLock', channelName, 'channelName')
      checkChannelType('getLock', channelType)
      return native.getLock(tag, channelName, channelType)
    })
  }
}

module.exports = { RTMLock }
