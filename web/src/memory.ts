// What a client remembers of its session, so a reconnect that could not resume rebuilds it
// (crates/engine/src/client/memory.rs, the same steps in the same order): states first (the
// server applies them on join), subscriptions, joins with their topics and topic
// subscriptions, user-metadata subscriptions, realtime scopes, the room.

type Frame = Record<string, any>
interface Stream { join: Frame, topics: Map<string, string>, subscribed: Map<string, Set<string>> }
export interface RestoreStep { frame: Frame, channel: string }

const TRACKED = new Set([
  'subscribe', 'unsubscribe', 'join', 'leave', 'joinTopic', 'leaveTopic', 'subscribeTopic', 'unsubscribeTopic',
  'setState', 'removeState', 'realtimeJoin', 'realtimeLeave', 'enterRoom', 'exitRoom', 'switchRole', 'switchRoom',
  'renewToken', 'subscribeUserMetadata', 'unsubscribeUserMetadata'
])

const stateKey = (type: string, channel: string): string => `${type}\n${channel}`
const roomName = (room: unknown): string => String(room)
const strip = (frame: Frame): Frame => { const { id, ...rest } = frame; return rest }

export class Memory {
  subscriptions = new Map<string, Frame>()
  streams = new Map<string, Stream>()
  states = new Map<string, { type: string, channel: string, states: Record<string, string> }>()
  scopes = new Set<string>()
  userMetadata = new Set<string>()
  room: Frame | null = null

  /** Whether a request changes what is remembered. */
  static tracks (op: string): boolean {
    return TRACKED.has(op)
  }

  clear (): void {
    this.subscriptions.clear(); this.streams.clear(); this.states.clear(); this.scopes.clear(); this.userMetadata.clear()
    this.room = null
  }

  /** Records a request the server accepted (`answer` is its response object). */
  record (f: Frame, answer: Frame): void {
    const stream = this.streams.get(f.channel)
    switch (f.op) {
      case 'subscribe': this.subscriptions.set(f.channel, strip(f)); break
      case 'unsubscribe':
        this.subscriptions.delete(f.channel)
        this.states.delete(stateKey('MESSAGE', f.channel))
        break
      case 'join': this.streams.set(f.channel, { join: strip(f), topics: new Map(), subscribed: new Map() }); break
      case 'leave':
        this.streams.delete(f.channel)
        this.states.delete(stateKey('STREAM', f.channel))
        break
      case 'joinTopic': stream?.topics.set(f.topic, f.meta ?? ''); break
      case 'leaveTopic': stream?.topics.delete(f.topic); break
      case 'subscribeTopic': {
        if (!stream) break
        const set = stream.subscribed.get(f.topic) ?? new Set<string>()
        for (const user of answer.succeedUsers ?? []) set.add(user)
        stream.subscribed.set(f.topic, set)
        break
      }
      case 'unsubscribeTopic':
        if (!stream) break
        if (f.users) for (const user of f.users) stream.subscribed.get(f.topic)?.delete(user)
        else stream.subscribed.delete(f.topic)
        break
      case 'subscribeUserMetadata': this.userMetadata.add(f.userId); break
      case 'unsubscribeUserMetadata': this.userMetadata.delete(f.userId); break
      case 'setState': {
        const key = stateKey(f.channelType, f.channel)
        const entry = this.states.get(key) ?? { type: f.channelType, channel: f.channel, states: {} }
        Object.assign(entry.states, f.states)
        this.states.set(key, entry)
        break
      }
      case 'removeState': {
        const key = stateKey(f.channelType, f.channel)
        if (!f.keys || f.keys.length === 0) this.states.delete(key)
        else { const entry = this.states.get(key); if (entry) for (const k of f.keys) delete entry.states[k] }
        break
      }
      case 'realtimeJoin': this.scopes.add(f.scope); break
      case 'realtimeLeave': this.scopes.delete(f.scope); break
      case 'renewToken': if (f.channel && stream) stream.join.token = f.token; break
      case 'enterRoom': this.room = strip(f); break
      case 'exitRoom': this.room = null; break
      case 'switchRole': if (this.room) this.room.role = f.role; break
      case 'switchRoom': if (this.room) this.room.room = f.room; break
    }
  }

  /** Forgets what a failed restore step would have rebuilt. */
  forget (f: Frame): void {
    const stream = this.streams.get(f.channel)
    switch (f.op) {
      case 'subscribe': this.subscriptions.delete(f.channel); break
      case 'join': this.streams.delete(f.channel); break
      case 'joinTopic': stream?.topics.delete(f.topic); break
      case 'subscribeTopic': stream?.subscribed.delete(f.topic); break
      case 'setState': this.states.delete(stateKey(f.channelType, f.channel)); break
      case 'realtimeJoin': this.scopes.delete(f.scope); break
      case 'enterRoom': this.room = null; break
      case 'subscribeUserMetadata': this.userMetadata.delete(f.userId); break
    }
  }

  /** The requests that rebuild the session, in order. */
  restoreSteps (): RestoreStep[] {
    const steps: RestoreStep[] = []
    const sorted = <T>(m: Map<string, T>): Array<[string, T]> => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [, s] of sorted(this.states)) {
      steps.push({ frame: { op: 'setState', channel: s.channel, channelType: s.type, states: { ...s.states } }, channel: s.channel })
    }
    for (const [channel, o] of sorted(this.subscriptions)) steps.push({ frame: { ...o }, channel })
    for (const [channel, stream] of sorted(this.streams)) {
      steps.push({ frame: { ...stream.join }, channel })
      for (const [topic, meta] of sorted(stream.topics)) steps.push({ frame: { op: 'joinTopic', channel, topic, meta }, channel })
      for (const [topic, users] of sorted(stream.subscribed)) {
        if (users.size > 0) steps.push({ frame: { op: 'subscribeTopic', channel, topic, users: [...users].sort() }, channel })
      }
    }
    for (const userId of [...this.userMetadata].sort()) steps.push({ frame: { op: 'subscribeUserMetadata', userId }, channel: userId })
    for (const scope of [...this.scopes].sort()) steps.push({ frame: { op: 'realtimeJoin', scope }, channel: scope })
    if (this.room) steps.push({ frame: { ...this.room }, channel: roomName(this.room.room) })
    return steps
  }

  /** Channels with presence that a restore gives a new SNAPSHOT: [channelType, channel]. */
  presenceChannels (): Array<[string, string]> {
    const out: Array<[string, string]> = []
    for (const [channel, o] of this.subscriptions) if (o.withPresence !== false) out.push(['MESSAGE', channel])
    for (const [channel, s] of this.streams) if (s.join.withPresence !== false) out.push(['STREAM', channel])
    return out
  }

  /** Every channel the session is in (for `affectedChannels`). */
  channels (): string[] {
    const all = new Set([...this.subscriptions.keys(), ...this.streams.keys()])
    if (this.room) all.add(roomName(this.room.room))
    return [...all].sort()
  }
}
