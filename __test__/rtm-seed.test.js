'use strict'
// The code samples of Agora's Signaling (RTM 2) JavaScript API reference, run against Piazza
// with only the import changed (`piazza-rtc/rtm`, through the package's self-reference) and the server added to the
// config. Each sample is copied as the docs have it; `console.log` is captured so that the test
// can check that every call succeeded. Where the docs' sample cannot run with agora-rtm-sdk
// itself, the fix is marked `docs fix:` (a missing comma, a missing `});`, a parameter
// redeclared; `rtm.subscribeTopic`, which exists on stream channels only, is not run).
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTMError } = require('..')
const { startServer, sleep } = require('./helpers')

const AgoraRTM = require('piazza-rtc/rtm') // was: import AgoraRTM from 'agora-rtm-sdk'

test('the RTM 2 API reference samples run against Piazza', async (t) => {
  const server = await startServer(t)
  const endpoint = server.url
  const logged = []
  const console = { log: (...args) => logged.push(args) }
  const yourSalt = new Uint8Array(32).fill(7)
  const seen = { message: [], presence: [], status: [], linkState: [] }

  // Initialization: Basic Usage
  {
    const { RTM } = AgoraRTM
    const rtm = new RTM('yourAppId', 'Tony', { endpoint })
    assert.ok(rtm)
  }

  // RTMConfig: Basic Usage
  const { RTMConfig } = AgoraRTM
  assert.equal(RTMConfig, undefined) // a type in the SDK too
  const { RTM, EncryptionMode } = AgoraRTM
  const rtmConfig = {
    encryptionMode: EncryptionMode.AES_256_GCM,
    salt: yourSalt,
    cipherKey: 'yourCipherKey',
    presenceTimeout: 300,
    logUpload: true,
    logLevel: 'debug',
    cloudProxy: false,
    useStringUserId: false, // docs fix: the comma
    privateConfig: {
      serviceType: ['MESSAGE', 'STREAM'],
    },
    heartbeatInterval: 5,
    endpoint, // added: the server
  }
  const rtm = new RTM('yourAppId', 'Tony', rtmConfig)
  const peerConfig = { ...rtmConfig }
  const encryptedPeer = new RTM('yourAppId', 'Bo', peerConfig)
  // Peers with the same config: Bo (channels) and user_b (the USER message).
  const peer = new RTM('yourAppId', 'user_b', peerConfig)
  await peer.login()
  t.after(() => peer.logout())
  const peerMessages = []
  peer.addEventListener('message', (e) => peerMessages.push(e))
  const boMessages = []
  encryptedPeer.on('message', (e) => boMessages.push(e))

  // Add event listeners
  rtm.addEventListener('message', event => {
    const channelType = event.channelType // Which channel type it is, Should be "STREAM", "MESSAGE" or "USER".
    const channelName = event.channelName // Which channel does this message come from
    const topic = event.topicName // Which Topic does this message come from, it is valid when the channelType is "STREAM".
    const messageType = event.messageType // Which message type it is, Should be "STRING" or "BINARY" .
    const customType = event.customType // User defined type
    const publisher = event.publisher // Message publisher
    const message = event.message // Message payload
    const timestamp = event.timestamp // Event timestamp
    seen.message.push({ channelType, channelName, topic, messageType, customType, publisher, message, timestamp })
  })
  rtm.addEventListener('presence', event => {
    const action = event.eventType
    const channelType = event.channelType
    const channelName = event.channelName
    const publisher = event.publisher
    const states = event.stateChanged
    const interval = event.interval
    const snapshot = event.snapshot
    const timestamp = event.timestamp
    seen.presence.push({ action, channelType, channelName, publisher, states, interval, snapshot, timestamp })
  })
  rtm.addEventListener('topic', event => {
    const action = event.evenType
    const channelName = event.channelName
    const publisher = event.userId
    const topicInfos = event.topicInfos
    const totalTopics = event.totalTopics
    const timestamp = event.timestamp
    void [action, channelName, publisher, topicInfos, totalTopics, timestamp]
  })
  rtm.addEventListener('storage', event => {
    void [event.channelType, event.channelName, event.publisher, event.storageType, event.eventType, event.data, event.timestamp]
  })
  rtm.addEventListener('lock', event => {
    void [event.channelType, event.channelName, event.publisher, event.evenType, event.lockName, event.ttl, event.snapshot, event.owner, event.timestamp]
  })
  const statusHandler = event => {
    const currentState = event.state
    const changeReason = event.reason
    const timestamp = event.timestamp
    seen.status.push({ currentState, changeReason, timestamp })
  }
  rtm.addEventListener('status', statusHandler)
  rtm.addEventListener('linkState', event => {
    const currentState = event.currentState
    const previousState = event.previousState
    const serviceType = event.serviceType
    const operation = event.operation
    const reason = event.reason
    const affectedChannels = event.affectedChannels
    const unrestoredChannels = event.unrestoredChannels
    const timestamp = event.timestamp
    const isResumed = event.isResumed
    seen.linkState.push({ currentState, previousState, serviceType, operation, reason, affectedChannels, unrestoredChannels, timestamp, isResumed })
  }) // docs fix: the closing `});`
  rtm.addEventListener('tokenPrivilegeWillExpire', (channel) => {
    const channelName = channel // docs fix: the parameter was redeclared // Which Channel Token Will Expire
    void channelName
  })

  // login
  try {
    const result = await rtm.login({ token: 'your_token' })
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  await encryptedPeer.login()
  t.after(() => encryptedPeer.logout())

  // renewToken
  rtm.addEventListener('tokenPrivilegeWillExpire', async (channelName) => {
    if (!channelName) {
      const newToken = '<Your new token>'
      await rtm.renewToken(newToken)
    }
  })

  // subscribe
  const options = {
    withMessage: true,
    withPresence: true,
    beQuiet: false,
    withMetadata: false,
    withLock: false,
  }
  try {
    const result = await rtm.subscribe('chat_room', options)
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  await encryptedPeer.subscribe('my_channel')
  try {
    const result = await rtm.subscribe('my_channel', options)
    console.log(result)
  } catch (status) {
    console.log(status)
  }

  // publish: a string, an ArrayBuffer, to a user
  try {
    const result = await rtm.publish('my_channel', 'Hello world')
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  const str2ab = function (str) {
    const buf = new ArrayBuffer(str.length * 2) // Each character occupies 2 bytes.
    const bufView = new Uint16Array(buf)
    for (let i = 0, strLen = str.length; i < strLen; i++) {
      bufView[i] = str.charCodeAt(i)
    }
    return buf
  }
  const Message = str2ab('hello world')
  try {
    const result = await rtm.publish('my_channel', Message)
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await rtm.publish('user_b', 'Hello world', { channelType: 'USER' })
    console.log(result)
  } catch (status) {
    console.log(status)
  }

  // Stream channels: create, join, joinTopic, publishTopicMessage, subscribeTopic, leaveTopic, leave
  let stChannel
  try {
    const Loc_stChannel = await rtm.createStreamChannel('Location')
    stChannel = Loc_stChannel
    console.log('Create Stream Channel success!: ')
  } catch (status) {
    console.log(status)
  }
  const peerChannel = encryptedPeer.createStreamChannel('Location')
  await peerChannel.join()
  await peerChannel.joinTopic('Gesture')
  const joinOptions = {
    token: 'yourToken',
    withPresence: true,
    beQuiet: false,
    withMetadata: false,
    withLock: false,
  }
  try {
    const result = await stChannel.join(joinOptions)
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await stChannel.joinTopic('Gesture', {}) // the docs join "gesture" and publish to "Gesture"
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await stChannel.publishTopicMessage('Gesture', JSON.stringify({ such: 'object' }))
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await stChannel.publishTopicMessage('Gesture', Message)
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await stChannel.subscribeTopic('Gesture')
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  try {
    const result = await stChannel.leaveTopic('Gesture')
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  const streamChannel = stChannel
  try {
    const result = await streamChannel.leave()
    console.log(result)
  } catch (status) {
    console.log(status)
  }

  // unsubscribe, remove a listener, logout
  try {
    const result = await rtm.unsubscribe('chat_room')
    console.log(result)
  } catch (status) {
    console.log(status)
  }
  rtm.removeEventListener('status', statusHandler)
  try {
    const result = await rtm.logout()
    console.log(result)
  } catch (status) {
    console.log(status)
  }

  // Every call succeeded (no RTMError was logged) and the events came.
  const errors = logged.filter(([v]) => v instanceof RTMError)
  assert.deepEqual(errors, [])
  assert.ok(logged.length >= 15, `${logged.length} results`)
  assert.ok(logged.some(([v]) => v && v.channelName === 'chat_room'))
  assert.ok(seen.linkState.some((e) => e.currentState === 'CONNECTED'))
  assert.ok(seen.status.some((e) => e.currentState === 'CONNECTED'))
  assert.ok(seen.presence.some((e) => e.channelName === 'chat_room' && e.action === 'SNAPSHOT'))
  // The encrypted peer got both messages, and the binary one as the bytes of the ArrayBuffer.
  for (let i = 0; i < 100 && (boMessages.length < 2 || peerMessages.length < 1); i++) await sleep(10)
  assert.deepEqual(boMessages.map((e) => [e.channelType, e.channelName, e.messageType]), [['MESSAGE', 'my_channel', 'STRING'], ['MESSAGE', 'my_channel', 'BINARY']])
  assert.equal(boMessages[0].message, 'Hello world')
  assert.deepEqual(Buffer.from(boMessages[1].message), Buffer.from(Message))
  assert.equal(peerMessages[0].message, 'Hello world')
  assert.equal(peerMessages[0].channelType, 'USER')
  assert.equal(rtm.listenerCount('status'), 0)
})
