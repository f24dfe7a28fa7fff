// Type test: the examples of README.md (Server, RTM client, Presence and the sections below)
// compile against index.d.ts, and misuse does not (each @ts-expect-error line must be an error,
// or tsc fails).
import { Server, RTM, RTMClient, RTMError, ErrorCode, RTMEvents, ServerStats } from 'piazza-rtc'

async function main (): Promise<void> {
  const server = await Server.start({
    host: '127.0.0.1', port: 0,
    limits: { maxMessageBytes: 32768, publishRatePerChannel: 60, maxSubscriptionsPerClient: 100 },
    logLevel: 'info',
    presence: { intervalThreshold: 50, intervalSeconds: 5, snapshotMaxUsers: 200 },
  })
  // @ts-expect-error: snapshotMaxUsers is a number
  void Server.start({ presence: { snapshotMaxUsers: '200' } })
  const url: string = server.url
  const stats: ServerStats = await server.stats()
  const n: number = stats.connections + stats.messagesOut + stats.dropped

  const rtm = new RTM('app', 'alice', {
    endpoint: server.url, presenceTimeout: 300, heartbeatInterval: 5, logLevel: 'info',
    privateConfig: { accessPointHosts: ['ws://a:7700', 'ws://b:7700'] },
  })
  const client: RTMClient = new RTMClient('app', 'bob', { endpoint: url })
  rtm.addEventListener('message', (event: RTMEvents.MessageEvent) => {
    const payload: string | Uint8Array = event.message
    const kind: 'STRING' | 'BINARY' = event.messageType
    const fields: string = event.channelType + event.channelName + event.topicName + event.customType + event.publisher
    void [payload, kind, fields, event.timestamp]
  })
  const onLink = (event: RTMEvents.LinkStateEvent): void => {
    const resumed: boolean = event.isResumed
    void [resumed, event.currentState, event.reasonCode, event.unrestoredChannels]
  }
  rtm.addEventListener('linkState', onLink)
  rtm.removeEventListener('linkState', onLink)
  rtm.addEventListener('status', (s) => { const state: string = s.state; void state })
  await rtm.login({ token: 'x' })
  const sub = await rtm.subscribe('chat', { withMessage: true, withPresence: true, beQuiet: false, withMetadata: false, withLock: false })
  const name: string = sub.channelName
  await rtm.publish('chat', 'text', { customType: 'chat', channelType: 'MESSAGE' })
  await rtm.publish('bob', new Uint8Array([1]), { channelType: 'USER' })
  await rtm.unsubscribe('chat')
  await rtm.logout()
  try {
    await client.login()
  } catch (e) {
    if (e instanceof RTMError) {
      const code: number = e.errorCode
      const same: boolean = code === ErrorCode.RTM_ERROR_NOT_LOGIN
      void [same, e.operation, e.reason, e.code]
    }
  }
  await server.close()
  void [n, name]

  // @ts-expect-error: publish takes string | Uint8Array
  await rtm.publish('chat', 42)
  // @ts-expect-error: unknown event type
  rtm.addEventListener('nope', () => {})
  // @ts-expect-error: stream channels use publishTopicMessage
  await rtm.publish('chat', 'x', { channelType: 'STREAM' })
  // @ts-expect-error: Server is created with Server.start
  new Server()
}

void main

// Stream channels, topics, realtime channels (README.md#stream-channels-and-topics, #realtime-channels).
import { RTMStreamChannel, RealtimeChannel, SubscribeTopicResponse } from 'piazza-rtc'

async function streams (rtm: RTM): Promise<void> {
  const st: RTMStreamChannel = rtm.createStreamChannel('room')
  await st.join({ token: 't', withPresence: true, beQuiet: false, withMetadata: false, withLock: false })
  await st.joinTopic('gesture', { meta: 'left hand' })
  const sent = await st.publishTopicMessage('gesture', 'wave', { customType: 'hand' })
  const topic: string = sent.topicName
  const r: SubscribeTopicResponse = await st.subscribeTopic('gesture', { users: ['bob'] })
  const failed: number[] = r.failedDetails.map((d) => d.errorCode)
  const list: string[] = st.getSubscribedUserList('gesture').subscribed
  await st.unsubscribeTopic('gesture', { users: ['bob'] })
  await st.leaveTopic('gesture')
  await st.leave()
  await st.release()
  rtm.addEventListener('presence', (e) => {
    const who: string = e.publisher
    const snapshot = e.snapshot ?? []
    void [who, snapshot.map((u) => u.userId + u.statesCount), e.interval?.totalOccupancy]
  })
  rtm.addEventListener('topic', (e) => { void e.topicInfos.map((t) => t.publishers.map((p) => p.publisherUserId + p.publisherMeta)) })
  const ch: RealtimeChannel = rtm.joinRealtimeChannel('app-chat')
  ch.setListener((data: Uint8Array) => { void data.length })
  ch.send(new Uint8Array([1, 2, 3]))
  ch.leave()
  // @ts-expect-error: realtime data is bytes
  ch.send('text')
  void [topic, failed, list]
}
void streams

// Rooms and the admin API (README.md#rooms-trtc, #the-admin-api).
import { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCErrorCode, PiazzaAdminError } from 'piazza-rtc'

async function rooms (server: Server): Promise<void> {
  const trtc = new TRTCCloud({ endpoint: server.url, presenceTimeout: 10 })
  trtc.on('onEnterRoom', (result) => { const ms: number = result; void ms })
  trtc.on('onExitRoom', (reason) => { const r: 0 | 1 | 2 = reason; void r })
  trtc.on('onRemoteUserEnterRoom', (userId) => { void userId.length })
  trtc.on('onRemoteUserLeaveRoom', (userId, reason) => { const r: 0 | 1 | 2 | 3 = reason; void [userId, r] })
  trtc.on('onError', (code, msg) => { void [code === TRTCErrorCode.ERR_ROOM_ID_INVALID, msg] })
  trtc.on('onRecvCustomCmdMsg', (userId, cmdId, seq, data) => { void [userId, cmdId, seq, data] })
  trtc.once('onConnectionLost', () => {})
  trtc.enterRoom({ sdkAppId: 1400000001, userId: 'alice', userSig: '', roomId: 123, role: TRTCRoleType.TRTCRoleAnchor }, TRTCAppScene.TRTCAppSceneVideoCall)
  trtc.enterRoom({ sdkAppId: 1400000001, userId: 'alice', strRoomId: 'lobby' }, TRTCAppScene.TRTCAppSceneLIVE)
  trtc.switchRole(TRTCRoleType.TRTCRoleAudience)
  trtc.switchRoom({ roomId: 124 })
  const sent: boolean = trtc.sendCustomCmdMsg(1, 'hi', true, true)
  trtc.exitRoom()
  trtc.destroy()
  const removed = await server.removeUser('1400000001', 123, ['bob'])
  const names: string[] = removed.removed.concat(removed.notInRoom)
  const dismissed = await server.dismissRoom('1400000001', 'lobby')
  void [sent, names, dismissed.members]
  try {
    await server.dismissRoom('app', 1)
  } catch (e) {
    if (e instanceof PiazzaAdminError) void [e.code, e.status]
  }
  // @ts-expect-error: unknown event
  trtc.on('onNothing', () => {})
  // @ts-expect-error: scenes are the TRTCAppScene values
  trtc.enterRoom({ sdkAppId: 1, userId: 'u', roomId: 1 }, 7)
}
void rooms

// The backend API (README.md#the-backend-api, docs/BACKEND-API.md).
async function backend (server: Server): Promise<void> {
  const sent = await server.publish('myapp', 'general', 'deploy at 5', { customType: 'ops', storeInHistory: true })
  const at: number = sent.timestamp
  await server.publish('myapp', 'alice', new Uint8Array([1]), { channelType: 'USER', publisher: 'backend' })
  const who = await server.whoNow('myapp', 'general', 'MESSAGE', { includedState: true, page: '' })
  const next: string = who.nextPage
  const where = await server.whereNow('myapp', 'alice')
  const meta = await server.getChannelMetadata('myapp', 'general', 'MESSAGE')
  const topic: string = meta.metadata.topic.value
  await server.setChannelMetadata('myapp', 'general', 'STREAM', [{ key: 'k', value: 'v' }], { addUserId: true })
  await server.removeChannelMetadata('myapp', 'general', 'MESSAGE', { data: [{ key: 'k' }] })
  const user = await server.setUserMetadata('myapp', 'alice', [{ key: 'k', value: 'v', revision: -1 }])
  const members = await server.roomMembers(1400000001, 'lobby')
  const role: 'anchor' | 'audience' | undefined = members.members[0]?.role
  const listed = await server.channels('myapp')
  const counts: number[] = listed.channels.map((c) => c.members)
  const overview = await server.overview()
  const apps: string[] = overview.apps.map((a) => a.appId)
  const rooms = await server.rooms('myapp')
  void [counts, apps, rooms.rooms[0]?.scene]
  void [at, next, where.totalChannel, topic, user.totalCount, role]
  // @ts-expect-error: backend publishes go to MESSAGE or USER channels
  await server.publish('myapp', 'general', 'x', { channelType: 'STREAM' })
  // @ts-expect-error: a message is text or bytes
  await server.publish('myapp', 'general', 42)
  // @ts-expect-error: metadata belongs to MESSAGE or STREAM channels
  await server.getChannelMetadata('myapp', 'general', 'USER')
}
void backend

// Security (README.md#security-tokens-tls-encryption): tokens, renewal, token events, encryption, TLS.
import { generateToken, Privileges } from 'piazza-rtc'
async function security (): Promise<void> {
  const server = await Server.start({
    apps: { myapp: { certificate: 'app-certificate-0123456789' } },
    tls: { certPath: 'server.pem', keyPath: 'server.key' },
    adminToken: 'an-admin-token-of-16+',
    connection: { maxPendingHandshakes: 1024, connectionsPerIpPerSecond: 100, framesPerSecond: 10000 },
  })
  const privileges: Privileges = { login: true, streamChannels: ['s1'], rooms: [7, 'lobby'], realtime: '*' }
  const token: string = generateToken({ appId: 'myapp', appCertificate: 'app-certificate-0123456789', userId: 'alice', expireSeconds: 3600, privileges })
  const rtm = new RTM('myapp', 'alice', {
    endpoint: server.url, encryptionMode: 'AES_256_GCM', cipherKey: 'k', salt: new Uint8Array(32), caCertificates: '-----BEGIN CERTIFICATE-----',
  })
  rtm.addEventListener('token', (e: RTMEvents.TokenEvent) => {
    const kind: 'WILL_EXPIRE' | 'EXPIRED' = e.eventType
    void [kind, e.reason, e.affectedResources.streamChannels, e.timestamp]
  })
  rtm.addEventListener('tokenPrivilegeWillExpire', (channelName: string) => { void channelName })
  rtm.addEventListener('error', (e: RTMEvents.DecryptionErrorEvent) => { void [e.errorCode, e.channelName, e.publisher, e.reason] })
  await rtm.login({ token })
  const renewed = await rtm.renewToken(token)
  await rtm.renewToken(token, { channelName: 's1' })
  void renewed.timestamp
  // @ts-expect-error: expireSeconds is required
  generateToken({ appId: 'myapp', appCertificate: 'c', userId: 'u' })
  // @ts-expect-error: a grant is '*' or a list
  generateToken({ appId: 'a', appCertificate: 'c', userId: 'u', expireSeconds: 1, privileges: { streamChannels: 'all' } })
  // @ts-expect-error: no such mode
  void new RTM('a', 'u', { encryptionMode: 'ROT13' })
  // @ts-expect-error: the salt is bytes
  void new RTM('a', 'u', { salt: 'salty' })
}
void security

// Cluster mode (README.md#cluster-mode-redis).
async function cluster (): Promise<void> {
  const node = await Server.start({ port: 7700, redisUrl: 'redis://127.0.0.1:6379', cluster: { prefix: 'prod', nodeId: 'a', nodeTimeoutMs: 3000 } })
  void node
  // @ts-expect-error: the node id is a string
  void Server.start({ redisUrl: 'redis://x', cluster: { nodeId: 5 } })
}
void cluster

// Storage, locks and history (README.md#storage-locks-and-history).
async function storageSection (rtm: RTM): Promise<void> {
  await rtm.storage.setChannelMetadata('room', 'MESSAGE', [{ key: 'topic', value: 'hi' }], { addUserId: true })
  const { metadata, majorRevision } = await rtm.storage.getChannelMetadata('room', 'MESSAGE')
  await rtm.storage.updateChannelMetadata('room', 'MESSAGE', [{ key: 'topic', value: 'new' }],
    { majorRevision })
  await rtm.storage.setUserMetadata([{ key: 'avatar', value: 'cat.png' }])
  await rtm.subscribe('room', { withMetadata: true, withLock: true })
  await rtm.lock.setLock('room', 'MESSAGE', 'mic', { ttl: 30 })
  await rtm.lock.acquireLock('room', 'MESSAGE', 'mic', { retry: true })
  await rtm.lock.releaseLock('room', 'MESSAGE', 'mic')
  await rtm.publish('room', 'kept', { storeInHistory: true })
  let start = 0
  do {
    const page = await rtm.history.getMessages('room', 'MESSAGE', { messageCount: 50, start })
    for (const m of page.messageList) console.log(m.publisher, m.message)
    start = page.newStart
  } while (start !== 0)
  const server = await Server.start({ storage: { path: './data', maxMetadataItems: 256, historyMaxAgeSeconds: 604800, maxHistoryPage: 100 } })
  void [metadata.topic.authorUid, server]
  // @ts-expect-error: the path is a string
  void Server.start({ storage: { path: 1 } })
}
void storageSection
