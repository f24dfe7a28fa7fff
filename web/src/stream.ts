// A stream channel of the browser client (lib/stream.js): join / leave / release, topics,
// topic messages (sealed when encryption is on), topic subscriptions.

import type {
  RTMStreamChannel as StreamChannelApi, JoinChannelResponse, LeaveChannelResponse, ReleaseChannelResponse, JoinTopicResponse, LeaveTopicResponse, PublishTopicMessageResponse, SubscribeTopicResponse, UnsubscribeTopicResponse, GetSubscribedUserListResponse
} from '../../common'
import { bytesOf, toPayload } from './bytes'
import { ErrorCode, RTMError, invalid, checkString, checkOptions, bool, channelName, topicName, checkCustomType } from './errors'
import { call } from './apis'
import type { RtmInternals } from './rtm'

type Frame = Record<string, any>
/** A server's answer: the response type each public method declares (the shared API's); the wire frame is that shape. */
type Answer = any // eslint-disable-line @typescript-eslint/no-explicit-any

function checkUsers (operation: string, options: unknown): string[] | undefined {
  const o = checkOptions(operation, options)
  if (o.users === undefined) return undefined
  if (!Array.isArray(o.users) || !o.users.every((u) => typeof u === 'string')) throw invalid(operation, 'users must be an array of strings')
  return o.users
}

function checkTopic (operation: string, topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') throw invalid(operation, 'topicName must be a string')
  topicName(operation, topic)
}

export class RTMStreamChannel implements StreamChannelApi {
  private released = false
  private subscribed = new Map<string, Set<string>>()

  constructor (private readonly rtm: RtmInternals, readonly channelName: string) {}

  private check (operation: string): void {
    if (this.released) {
      throw invalid(operation, `stream channel ${JSON.stringify(this.channelName)} was released; create a new instance`, ErrorCode.RTM_ERROR_INSTANCE_ALREADY_RELEASED)
    }
  }

  private request (operation: string, build: () => Frame, payload?: Uint8Array): Promise<Answer> {
    return call(operation, () => {
      this.check(operation)
      return this.rtm.link.request(operation, { channel: this.channelName, ...build() }, payload)
    })
  }

  join (options?: Frame): Promise<JoinChannelResponse> {
    return this.request('join', () => {
      const o = checkOptions('join', options)
      if (o.token !== undefined && typeof o.token !== 'string') throw invalid('join', 'token must be a string')
      const frame: Frame = {
        op: 'join', withPresence: bool(o.withPresence, true), beQuiet: bool(o.beQuiet, false),
        withMetadata: bool(o.withMetadata, false), withLock: bool(o.withLock, false)
      }
      if (o.token) frame.token = o.token
      return frame
    }).then((r) => { this.subscribed.clear(); return r })
  }

  leave (): Promise<LeaveChannelResponse> {
    return this.request('leave', () => ({ op: 'leave' })).then((r) => { this.subscribed.clear(); return r })
  }

  release (): Promise<ReleaseChannelResponse> {
    try { this.check('release') } catch (e) { return Promise.reject(e) }
    const leaving = this.leave().catch(() => null)
    this.released = true
    return leaving.then(() => ({ timestamp: Date.now(), channelName: this.channelName }))
  }

  joinTopic (topic: string, options?: { meta?: unknown }): Promise<JoinTopicResponse> {
    return this.request('joinTopic', () => {
      checkTopic('joinTopic', topic)
      const o = checkOptions('joinTopic', options)
      const meta = o.meta === undefined ? '' : (typeof o.meta === 'string' ? o.meta : JSON.stringify(o.meta))
      if (new TextEncoder().encode(meta).length > 256) {
        throw new RTMError('joinTopic', ErrorCode.RTM_ERROR_CHANNEL_INVALID_TOPIC_META, 'topic meta is over 256 bytes')
      }
      return { op: 'joinTopic', topic, meta }
    })
  }

  leaveTopic (topic: string): Promise<LeaveTopicResponse> {
    return this.request('leaveTopic', () => { checkTopic('leaveTopic', topic); return { op: 'leaveTopic', topic } })
  }

  publishTopicMessage (topic: string, message: string | Uint8Array | ArrayBuffer, options?: { customType?: string }): Promise<PublishTopicMessageResponse> {
    const op = 'publishTopicMessage'
    return call(op, () => {
      this.check(op)
      checkTopic(op, topic)
      const payload = toPayload(message)
      if (payload === null) throw invalid(op, 'message must be a string, a Uint8Array or an ArrayBuffer')
      const o = checkOptions(op, options)
      const customType = o.customType === undefined ? '' : o.customType
      checkString(op, customType, 'customType')
      channelName(op, this.channelName)
      checkCustomType(op, customType)
      const messageType = typeof payload === 'string' ? 'STRING' : 'BINARY'
      return this.rtm.sealed(bytesOf(payload), (bytes, encrypted) => {
        const max = this.rtm.link.maxMessageBytes
        if (bytes.length > max) {
          throw new RTMError(op, ErrorCode.RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION, `message is ${bytes.length} bytes; at most ${max} are allowed`)
        }
        const frame: Frame = { op: 'publishTopic', channel: this.channelName, topic, messageType, customType }
        if (encrypted) frame.encrypted = true
        return this.rtm.link.request(op, frame, bytes)
      })
    })
  }

  subscribeTopic (topic: string, options?: { users?: string[] }): Promise<SubscribeTopicResponse> {
    return this.request('subscribeTopic', () => {
      checkTopic('subscribeTopic', topic)
      const users = checkUsers('subscribeTopic', options)
      return users === undefined ? { op: 'subscribeTopic', topic } : { op: 'subscribeTopic', topic, users }
    }).then((r) => {
      const set = this.subscribed.get(topic) ?? new Set<string>()
      for (const user of r.succeedUsers) set.add(user)
      this.subscribed.set(topic, set)
      return r
    })
  }

  unsubscribeTopic (topic: string, options?: { users?: string[] }): Promise<UnsubscribeTopicResponse> {
    let users: string[] | undefined
    return this.request('unsubscribeTopic', () => {
      checkTopic('unsubscribeTopic', topic)
      users = checkUsers('unsubscribeTopic', options)
      return users === undefined ? { op: 'unsubscribeTopic', topic } : { op: 'unsubscribeTopic', topic, users }
    }).then((r) => {
      if (users === undefined) this.subscribed.delete(topic)
      else for (const user of users) this.subscribed.get(topic)?.delete(user)
      return r
    })
  }

  getSubscribedUserList (topic: string): GetSubscribedUserListResponse {
    this.check('getSubscribedUserList')
    if (typeof topic !== 'string') throw invalid('getSubscribedUserList', 'topicName must be a string')
    return { timestamp: Date.now(), topicName: topic, subscribed: [...(this.subscribed.get(topic) ?? [])] }
  }
}
