'use strict'
// lib/constants.js: the enum-like constant objects of the RTM API (agora-rtm-sdk 2.x names).
// They are plain frozen objects that no module depends on for behaviour; they live apart so
// that index.js can export them without loading any client code. (Error codes are in
// errors.js, the TRTC enums in trtc.js, next to the code that interprets them.)

const ChannelType = Object.freeze({ MESSAGE: 'MESSAGE', STREAM: 'STREAM', USER: 'USER' })
const MessageType = Object.freeze({ STRING: 'STRING', BINARY: 'BINARY' })
const LinkState = Object.freeze({
  IDLE: 'IDLE', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED',
  DISCONNECTED: 'DISCONNECTED', SUSPENDED: 'SUSPENDED', FAILED: 'FAILED',
})
const PresenceEventType = Object.freeze({
  SNAPSHOT: 'SNAPSHOT', INTERVAL: 'INTERVAL', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE',
  REMOTE_TIMEOUT: 'REMOTE_TIMEOUT', REMOTE_STATE_CHANGED: 'REMOTE_STATE_CHANGED', ERROR_OUT_OF_SERVICE: 'ERROR_OUT_OF_SERVICE',
})
const TopicEventType = Object.freeze({ SNAPSHOT: 'SNAPSHOT', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE' })

module.exports = { ChannelType, MessageType, LinkState, PresenceEventType, TopicEventType }
