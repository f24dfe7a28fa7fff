// rtm.presence, rtm.storage, rtm.lock and rtm.history of the browser client: the Node
// package's (lib/presence.js, storage.js, lock.js, history.js) — the same arguments, checks
// and answers — over the client's link.

import type { RTMPresence as PresenceApi, WhoNowResponse, WhereNowResponse, SetStateResponse, GetStateResponse, RemoveStateResponse } from '../../common'
import type {
  RTMStorage as StorageApi, RTMLock as LockApi, RTMHistory as HistoryApi,
  AcquireLockResponse, GetChannelMetadataResponse, GetLockResponse, GetMessagesResponse, GetUserMetadataResponse, ReleaseLockResponse, RemoveChannelMetadataResponse, RemoveLockResponse, RemoveUserMetadataResponse, RevokeLockResponse, SetChannelMetadataResponse, SetLockResponse, SetUserMetadataResponse, SubscribeUserMetaResponse, UnsubscribeUserMetaResponse, UpdateChannelMetadataResponse, UpdateUserMetadataResponse
} from '../../storage'
import { fromBase64 } from './bytes'
import { ErrorCode, RTMError, invalid, checkString, checkOptions, bool, channelName, userIdName, lockName } from './errors'
import type { RtmInternals } from './rtm'

type Frame = Record<string, any>
/** A server's answer: the response type each public method declares (the shared API's); the wire frame is that shape. */
type Answer = any // eslint-disable-line @typescript-eslint/no-explicit-any

/** Runs a request whose checks may throw: every failure is a rejection. */
export function call (operation: string, run: () => Promise<Frame>): Promise<Answer> {
  try {
    return run()
  } catch (e) {
    return Promise.reject(e instanceof RTMError ? e : invalid(operation, String(e)))
  }
}

function twoTypes (operation: string, channelType: unknown, a: string, b: string): void {
  if (channelType !== a && channelType !== b) {
    throw invalid(operation, `channelType must be '${a}' or '${b}', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
  }
}
const presenceType = (op: string, t: unknown): void => twoTypes(op, t, 'MESSAGE', 'STREAM')

export class RTMPresence implements PresenceApi {
  constructor (private readonly rtm: RtmInternals) {}

  whoNow (channel: string, channelType: string, options?: Frame): Promise<WhoNowResponse> {
    return call('whoNow', () => {
      checkString('whoNow', channel, 'channelName')
      presenceType('whoNow', channelType)
      const o = checkOptions('whoNow', options)
      if (o.page !== undefined && typeof o.page !== 'string') throw invalid('whoNow', 'page must be a string')
      channelName('whoNow', channel)
      const frame: Frame = { op: 'whoNow', channel, channelType, includedUserId: bool(o.includedUserId, true), includedState: bool(o.includedState, false) }
      if (o.page) frame.page = o.page
      return this.rtm.link.request('whoNow', frame)
    })
  }

  getOnlineUsers (channel: string, channelType: string, options?: Frame): Promise<WhoNowResponse> { return this.whoNow(channel, channelType, options) }

  whereNow (userId: string): Promise<WhereNowResponse> {
    return call('whereNow', () => {
      checkString('whereNow', userId, 'userId')
      userIdName('whereNow', userId)
      return this.rtm.link.request('whereNow', { op: 'whereNow', userId })
    })
  }

  getUserChannels (userId: string): Promise<WhereNowResponse> { return this.whereNow(userId) }

  setState (channel: string, channelType: string, state: Record<string, string>): Promise<SetStateResponse> {
    return call('setState', () => {
      checkString('setState', channel, 'channelName')
      presenceType('setState', channelType)
      if (state === null || typeof state !== 'object' || Array.isArray(state)) {
        throw invalid('setState', 'state must be an object of string values', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
      }
      for (const [key, value] of Object.entries(state)) {
        if (typeof value !== 'string') {
          throw invalid('setState', `the value of state ${JSON.stringify(key)} must be a string, got ${typeof value}`, ErrorCode.RTM_ERROR_PRESENCE_INVALID_STATE_VALUE)
        }
      }
      channelName('setState', channel)
      return this.rtm.link.request('setState', { op: 'setState', channel, channelType, states: { ...state } })
    })
  }

  getState (userId: string, channel: string, channelType: string): Promise<GetStateResponse> {
    return call('getState', () => {
      checkString('getState', userId, 'userId')
      checkString('getState', channel, 'channelName')
      presenceType('getState', channelType)
      userIdName('getState', userId)
      channelName('getState', channel)
      return this.rtm.link.request('getState', { op: 'getState', userId, channel, channelType })
    })
  }

  removeState (channel: string, channelType: string, options?: { states?: string[] }): Promise<RemoveStateResponse> {
    return call('removeState', () => {
      checkString('removeState', channel, 'channelName')
      presenceType('removeState', channelType)
      const o = checkOptions('removeState', options)
      if (o.states !== undefined && (!Array.isArray(o.states) || !o.states.every((k) => typeof k === 'string'))) {
        throw invalid('removeState', 'states must be an array of keys', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
      }
      channelName('removeState', channel)
      const frame: Frame = { op: 'removeState', channel, channelType }
      if (o.states !== undefined) frame.keys = o.states
      return this.rtm.link.request('removeState', frame)
    })
  }
}

function flag (operation: string, value: unknown, what: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalid(operation, `${what} must be a boolean, got ${typeof value}`)
  return value
}
const isRevision = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= -1

function checkItems (operation: string, data: unknown): Frame[] {
  if (!Array.isArray(data)) throw invalid(operation, 'data must be an array of metadata items ({ key, value, revision })', ErrorCode.RTM_ERROR_STORAGE_INVALID_ARGUMENT)
  const keys = new Set<string>()
  return data.map((item, i) => {
    const bad = (why: string): RTMError => invalid(operation, `data[${i}]: ${why}`, ErrorCode.RTM_ERROR_STORAGE_INVALID_METADATA_ITEM)
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw bad('an item must be an object { key, value, revision }')
    if (typeof item.key !== 'string') throw bad(`key must be a string, got ${typeof item.key}`)
    if (item.value !== undefined && typeof item.value !== 'string') throw bad(`value must be a string, got ${typeof item.value}`)
    if (item.revision !== undefined && !isRevision(item.revision)) throw bad(`revision must be an integer from -1 up, got ${JSON.stringify(item.revision)}`)
    if (keys.has(item.key)) throw invalid(operation, `data[${i}]: key ${JSON.stringify(item.key)} appears twice`, ErrorCode.RTM_ERROR_STORAGE_DUPLICATE_KEY)
    keys.add(item.key)
    return { key: item.key, value: item.value ?? '', revision: item.revision ?? -1 }
  })
}

function metaOptions (operation: string, o: Frame): Frame {
  if (o.majorRevision !== undefined && !isRevision(o.majorRevision)) {
    throw invalid(operation, `majorRevision must be an integer from -1 up, got ${JSON.stringify(o.majorRevision)}`)
  }
  if (o.lockName !== undefined) checkString(operation, o.lockName, 'lockName')
  return {
    majorRevision: o.majorRevision ?? -1,
    lockName: o.lockName ?? '',
    addTimeStamp: flag(operation, o.addTimeStamp, 'addTimeStamp'),
    addUserId: flag(operation, o.addUserId, 'addUserId')
  }
}

const WIRE_OPS: Record<string, string> = { set: 'setMetadata', update: 'updateMetadata', remove: 'removeMetadata' }

export class RTMStorage implements StorageApi {
  constructor (private readonly rtm: RtmInternals) {}

  private write (operation: string, mode: string, target: Frame, data: unknown, options: unknown): Promise<Answer> {
    return call(operation, () => {
      const o = checkOptions(operation, options)
      let t = target
      if (!t.channel) {
        const userId = o.userId === undefined ? this.rtm.userId : o.userId
        checkString(operation, userId, 'userId')
        t = { userId }
      } else {
        checkString(operation, t.channel, 'channelName')
        twoTypes(operation, t.channelType, 'MESSAGE', 'STREAM')
      }
      const items = mode === 'remove' ? (o.data === undefined ? [] : checkItems(operation, o.data)) : checkItems(operation, data)
      const frame = { op: WIRE_OPS[mode], ...t, items, options: metaOptions(operation, o) }
      return this.rtm.link.request(operation, frame)
    })
  }

  setChannelMetadata (channel: string, channelType: string, data: unknown, options?: unknown): Promise<SetChannelMetadataResponse> {
    return this.write('setChannelMetadata', 'set', { channel, channelType }, data, options)
  }

  updateChannelMetadata (channel: string, channelType: string, data: unknown, options?: unknown): Promise<UpdateChannelMetadataResponse> {
    return this.write('updateChannelMetadata', 'update', { channel, channelType }, data, options)
  }

  removeChannelMetadata (channel: string, channelType: string, options?: unknown): Promise<RemoveChannelMetadataResponse> {
    return this.write('removeChannelMetadata', 'remove', { channel, channelType }, undefined, options)
  }

  getChannelMetadata (channel: string, channelType: string): Promise<GetChannelMetadataResponse> {
    return call('getChannelMetadata', () => {
      checkString('getChannelMetadata', channel, 'channelName')
      twoTypes('getChannelMetadata', channelType, 'MESSAGE', 'STREAM')
      return this.rtm.link.request('getChannelMetadata', { op: 'getMetadata', channel, channelType })
    })
  }

  setUserMetadata (data: unknown, options?: unknown): Promise<SetUserMetadataResponse> { return this.write('setUserMetadata', 'set', {}, data, options) }
  updateUserMetadata (data: unknown, options?: unknown): Promise<UpdateUserMetadataResponse> { return this.write('updateUserMetadata', 'update', {}, data, options) }
  removeUserMetadata (options?: unknown): Promise<RemoveUserMetadataResponse> { return this.write('removeUserMetadata', 'remove', {}, undefined, options) }

  getUserMetadata (options?: { userId?: string }): Promise<GetUserMetadataResponse> {
    return call('getUserMetadata', () => {
      const o = checkOptions('getUserMetadata', options)
      const userId = o.userId === undefined ? this.rtm.userId : o.userId
      checkString('getUserMetadata', userId, 'userId')
      return this.rtm.link.request('getUserMetadata', { op: 'getMetadata', userId })
    })
  }

  subscribeUserMetadata (userId: string): Promise<SubscribeUserMetaResponse> { return this.userOp('subscribeUserMetadata', userId) }
  unsubscribeUserMetadata (userId: string): Promise<UnsubscribeUserMetaResponse> { return this.userOp('unsubscribeUserMetadata', userId) }

  private userOp (op: string, userId: string): Promise<Answer> {
    return call(op, () => {
      checkString(op, userId, 'userId')
      userIdName(op, userId)
      return this.rtm.link.request(op, { op, userId })
    })
  }
}

export class RTMLock implements LockApi {
  constructor (private readonly rtm: RtmInternals) {}

  private lock (operation: string, channel: string, channelType: string, name: string, extra: () => Frame, timeoutMs?: (f: Frame) => number | undefined): Promise<Answer> {
    return call(operation, () => {
      checkString(operation, channel, 'channelName')
      twoTypes(operation, channelType, 'MESSAGE', 'STREAM')
      checkString(operation, name, 'lockName')
      const more = extra()
      channelName(operation, channel)
      lockName(operation, name)
      const frame = { op: operation, channel, channelType, lockName: name, ...more }
      return this.rtm.link.request(operation, frame, undefined, timeoutMs?.(frame))
    })
  }

  setLock (channel: string, channelType: string, name: string, options?: { ttl?: number }): Promise<SetLockResponse> {
    return this.lock('setLock', channel, channelType, name, () => {
      const o = checkOptions('setLock', options)
      if (o.ttl !== undefined && !Number.isSafeInteger(o.ttl)) throw invalid('setLock', `ttl must be an integer number of seconds, got ${JSON.stringify(o.ttl)}`)
      return { ttl: o.ttl ?? 10 }
    })
  }

  /** With `retry: true` it waits as long as it takes (no request timeout), as the Node client. */
  acquireLock (channel: string, channelType: string, name: string, options?: { retry?: boolean }): Promise<AcquireLockResponse> {
    return this.lock('acquireLock', channel, channelType, name, () => {
      const o = checkOptions('acquireLock', options)
      return { retry: flag('acquireLock', o.retry, 'retry') }
    }, (f) => (f.retry ? 365 * 24 * 3600 * 1000 : undefined))
  }

  releaseLock (channel: string, channelType: string, name: string): Promise<ReleaseLockResponse> {
    return this.lock('releaseLock', channel, channelType, name, () => ({}))
  }

  removeLock (channel: string, channelType: string, name: string): Promise<RemoveLockResponse> {
    return this.lock('removeLock', channel, channelType, name, () => ({}))
  }

  revokeLock (channel: string, channelType: string, name: string, owner: string): Promise<RevokeLockResponse> {
    return this.lock('revokeLock', channel, channelType, name, () => {
      checkString('revokeLock', owner, 'owner')
      return { owner }
    })
  }

  getLock (channel: string, channelType: string): Promise<GetLockResponse> {
    return call('getLock', () => {
      checkString('getLock', channel, 'channelName')
      twoTypes('getLock', channelType, 'MESSAGE', 'STREAM')
      channelName('getLock', channel)
      return this.rtm.link.request('getLock', { op: 'getLock', channel, channelType })
    })
  }
}

function count (operation: string, value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(operation, `${what} must be a non-negative integer, got ${JSON.stringify(value)}`)
  return value as number
}

export class RTMHistory implements HistoryApi {
  constructor (private readonly rtm: RtmInternals) {}

  getMessages (channel: string, channelType: string, options?: Frame): Promise<GetMessagesResponse> {
    const op = 'getMessages'
    return call(op, () => {
      checkString(op, channel, 'channelName')
      twoTypes(op, channelType, 'MESSAGE', 'USER')
      const o = checkOptions(op, options)
      const frame: Frame = { op, channel, channelType, start: count(op, o.start, 'start', 0), end: count(op, o.end, 'end', 0) }
      if (o.messageCount !== undefined) frame.messageCount = count(op, o.messageCount, 'messageCount', 100)
      if (channelType === 'USER') userIdName(op, channel)
      else channelName(op, channel)
      return this.rtm.link.request(op, frame).then((r) => this.open(r, channel, channelType))
    })
  }

  /** Payloads in the type they were sent in; sealed ones opened (a message that cannot be is left out). */
  private async open (r: Frame, channelName: string, channelType: string): Promise<Frame> {
    const list: Frame[] = []
    for (const m of r.messageList as Frame[]) {
      let message: string | Uint8Array = m.message
      if (m.encrypted) {
        const plain = await this.rtm.open(fromBase64(m.message), { channelType, channelName, publisher: m.publisher })
        if (!plain) continue
        message = m.messageType === 'BINARY' ? plain : new TextDecoder().decode(plain)
      } else if (m.messageType === 'BINARY') {
        message = fromBase64(m.message)
      }
      list.push({ message, messageType: m.messageType, customType: m.customType, publisher: m.publisher, timestamp: m.timestamp })
    }
    return { ...r, messageList: list, count: list.length }
  }
}
