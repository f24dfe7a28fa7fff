// Type test of storage, locks and history (storage.d.ts through index.d.ts and rtm.d.ts): the
// agora-rtm-sdk docs' samples compile as they are, answers and events have the SDK's fields, and
// misuse does not compile (each @ts-expect-error line must be an error).
import AgoraRTM, {
  RTMClient, RTMEvents, MetadataItem, MetadataOptions, GetChannelMetadataResponse, GetMessagesResponse, LockDetail,
  RTMStorage as StorageType, RTMLock as LockType, RTMHistory as HistoryType,
} from 'piazza-rtc/rtm'
import {
  RTM, RTMStorage, RTMLock, RTMHistory, Server, ServerOptions, StorageEvent, LockEvent, MetaDataDetail, StorageData,
  HistoryMessage, PublishOptions, SubscribeOptions, JoinOptions, StorageEventType, LockEventType, StorageType as Kind,
} from 'piazza-rtc'

const rtm: RTMClient = new AgoraRTM.RTM('appId', 'Tony', { endpoint: 'ws://127.0.0.1:7700' })
const storage: StorageType = rtm.storage
const lock: LockType = rtm.lock
const history: HistoryType = rtm.history
const classes: [typeof RTMStorage, typeof RTMLock, typeof RTMHistory] = [RTMStorage, RTMLock, RTMHistory]
void [storage, lock, history, classes]

async function channelMetadata (): Promise<void> {
  // The SDK docs' samples.
  const data: MetadataItem[] = [{ key: 'Apple', value: '100', revision: 174298200 }, { key: 'Banana', value: '200', revision: 174298100 }]
  const options: MetadataOptions = { majorRevision: 174298270, lockName: 'lockName', addTimeStamp: true, addUserId: true }
  const set = await rtm.storage.setChannelMetadata('channel_name', 'MESSAGE', data, options)
  const sets: [string, 'MESSAGE' | 'STREAM', number, number] = [set.channelName, set.channelType, set.totalCount, set.timestamp]
  const got: GetChannelMetadataResponse = await rtm.storage.getChannelMetadata('channel_name', 'STREAM')
  const detail: MetaDataDetail = got.metadata.Apple
  const fields: [string, number, number, string, number, number] = [detail.value, detail.revision, detail.updated, detail.authorUid, got.majorRevision, got.totalCount]
  const updated = await rtm.storage.updateChannelMetadata('channel_name', 'MESSAGE', [{ key: 'Apple', value: '120' }])
  const removed = await rtm.storage.removeChannelMetadata('channel_name', 'MESSAGE', { data: [{ key: 'Apple' }, { key: 'Banana' }], majorRevision: 174298270, lockName: 'lockName' })
  await rtm.storage.removeChannelMetadata('channel_name', 'MESSAGE')
  void [sets, fields, updated.totalCount, removed.totalCount]
  // @ts-expect-error: channel metadata of a message or stream channel only
  await rtm.storage.getChannelMetadata('channel_name', 'USER')
  // @ts-expect-error: data is an array of items
  await rtm.storage.setChannelMetadata('channel_name', 'MESSAGE', { key: 'Apple', value: '1' })
  // @ts-expect-error: an item's value is a string
  await rtm.storage.setChannelMetadata('channel_name', 'MESSAGE', [{ key: 'Apple', value: 1 }])
  // @ts-expect-error: majorRevision is a number
  await rtm.storage.updateChannelMetadata('channel_name', 'MESSAGE', data, { majorRevision: '3' })
}
void channelMetadata

async function userMetadata (): Promise<void> {
  const data = [{ key: 'Apple', value: '100', revision: -1 }]
  const set = await rtm.storage.setUserMetadata(data, { userId: 'Tony', addTimeStamp: true })
  await rtm.storage.setUserMetadata(data)
  const got = await rtm.storage.getUserMetadata({ userId: 'Tony' })
  const mine = await rtm.storage.getUserMetadata()
  const whole: StorageData = got
  await rtm.storage.updateUserMetadata(data, { majorRevision: 3 })
  await rtm.storage.removeUserMetadata({ userId: 'Tony', data: [{ key: 'Apple' }] })
  await rtm.storage.removeUserMetadata()
  const sub = await rtm.storage.subscribeUserMetadata('Tony')
  const unsub = await rtm.storage.unsubscribeUserMetadata('Tony')
  const ids: string[] = [set.userId, got.userId, mine.userId, sub.userId, unsub.userId]
  void [whole.metadata, ids, set.totalCount]
  // @ts-expect-error: the user id is an option, not the first argument
  await rtm.storage.getUserMetadata('Tony')
  // @ts-expect-error: subscribeUserMetadata needs the user id
  await rtm.storage.subscribeUserMetadata()
}
void userMetadata

async function locks (): Promise<void> {
  await rtm.lock.setLock('channel_name', 'MESSAGE', 'lockName', { ttl: 30 })
  await rtm.lock.setLock('channel_name', 'STREAM', 'lockName')
  const acquired = await rtm.lock.acquireLock('channel_name', 'MESSAGE', 'lockName', { retry: false })
  await rtm.lock.releaseLock('channel_name', 'MESSAGE', 'lockName')
  await rtm.lock.revokeLock('channel_name', 'MESSAGE', 'lockName', 'Tony')
  await rtm.lock.removeLock('channel_name', 'MESSAGE', 'lockName')
  const got = await rtm.lock.getLock('channel_name', 'MESSAGE')
  const details: LockDetail[] = got.lockDetails
  const one: [string, string, number] = [details[0].lockName, details[0].owner, details[0].ttl]
  void [acquired.lockName, acquired.channelType, got.totalLocks, one]
  // @ts-expect-error: ttl is a number of seconds
  await rtm.lock.setLock('channel_name', 'MESSAGE', 'lockName', { ttl: '30' })
  // @ts-expect-error: revokeLock needs the owner
  await rtm.lock.revokeLock('channel_name', 'MESSAGE', 'lockName')
  // @ts-expect-error: retry is a boolean
  await rtm.lock.acquireLock('channel_name', 'MESSAGE', 'lockName', { retry: 1 })
}
void locks

async function messages (): Promise<void> {
  const publish: PublishOptions = { customType: 'PlainText', channelType: 'MESSAGE', storeInHistory: true }
  await rtm.publish('channel_name', 'hello', publish)
  await rtm.publish('Tony', new Uint8Array([1, 2]), { channelType: 'USER', storeInHistory: true })
  const page: GetMessagesResponse = await rtm.history.getMessages('channel_name', 'MESSAGE', { messageCount: 50, start: 0, end: 0 })
  const next = await rtm.history.getMessages('Tony', 'USER', { start: page.newStart })
  const first: HistoryMessage = next.messageList[0]
  const payload: string | Uint8Array = first.message
  const kind: 'STRING' | 'BINARY' = first.messageType
  void [payload, kind, first.customType, first.publisher, first.timestamp, page.count]
  // @ts-expect-error: no history of stream channels
  await rtm.history.getMessages('channel_name', 'STREAM')
  // @ts-expect-error: messageCount is a number
  await rtm.history.getMessages('channel_name', 'MESSAGE', { messageCount: '50' })
  // @ts-expect-error: storeInHistory is a boolean
  await rtm.publish('channel_name', 'hello', { storeInHistory: 'yes' })
}
void messages

function events (client: RTM): void {
  const subscribe: SubscribeOptions = { withMetadata: true, withLock: true }
  const join: JoinOptions = { withMetadata: true, withLock: true }
  void client.subscribe('channel_name', subscribe)
  void client.createStreamChannel('stream').join(join)
  client.addEventListener('storage', (event) => {
    const e: StorageEvent = event
    const sdk: RTMEvents.StorageEvent = event
    const type: StorageEventType = e.eventType
    const kind: Kind = e.storageType
    void [sdk.channelType, e.channelName, e.publisher, type, kind, e.data.majorRevision, e.data.metadata, e.timestamp]
  })
  client.on('lock', (event) => {
    const e: LockEvent = event
    const sdk: RTMEvents.LockEvent = event
    const type: LockEventType = e.eventType
    void [sdk.channelType, e.channelName, type, e.lockName, e.ttl, e.publisher, e.snapshot, e.owner, e.timestamp]
  })
  // @ts-expect-error: a storage event is not a lock event
  client.on('storage', (event: LockEvent) => { void event })
  client.on('lock', (event) => {
    // @ts-expect-error: lock events have no storageType
    void event.storageType
  })
}
void events

async function server (): Promise<void> {
  const options: ServerOptions = {
    storage: {
      path: '/var/lib/piazza', maxMetadataItems: 2, maxMetadataKeyBytes: 16, maxMetadataValueBytes: 8,
      maxUserMetadataSubscriptions: 1, maxLocksPerChannel: 1, historyMaxMessages: 10, historyMaxAgeSeconds: 60, maxHistoryPage: 5,
      maxMetadataBytes: 4096, historyPageBytes: 65536, historySyncMs: 0,
    },
    cluster: { recoveryMessages: 500, recoverySeconds: 60 },
  }
  const s = await Server.start(options)
  await s.close()
  // @ts-expect-error: not a storage option
  await Server.start({ storage: { maxItems: 2 } })
}
void server
