// piazza-rtc/web: the browser client of Piazza — RTM (message, user and stream channels,
// topics, presence, storage, locks, history), TRTCCloud rooms and realtime channels over the
// browser's WebSocket, with the Node package's API and types (web/index.d.ts). No dependencies.

export { RTM, RTM as RTMClient } from './rtm'
export { RTMStreamChannel } from './stream'
export { RealtimeChannel, MAX_REALTIME_BYTES } from './realtime'
export { RTMPresence, RTMStorage, RTMLock, RTMHistory } from './apis'
export { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode } from './trtc'
export { ErrorCode, TRTCErrorCode, RTMError } from './errors'
export { createWebxdc } from './webxdc'
export { Emitter as PiazzaEmitter } from './emitter'

export const ChannelType = Object.freeze({ MESSAGE: 'MESSAGE', STREAM: 'STREAM', USER: 'USER' } as const)
export const MessageType = Object.freeze({ STRING: 'STRING', BINARY: 'BINARY' } as const)
export const LinkState = Object.freeze({
  IDLE: 'IDLE', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED', DISCONNECTED: 'DISCONNECTED', SUSPENDED: 'SUSPENDED', FAILED: 'FAILED'
} as const)
export const PresenceEventType = Object.freeze({
  SNAPSHOT: 'SNAPSHOT', INTERVAL: 'INTERVAL', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE',
  REMOTE_TIMEOUT: 'REMOTE_TIMEOUT', REMOTE_STATE_CHANGED: 'REMOTE_STATE_CHANGED', ERROR_OUT_OF_SERVICE: 'ERROR_OUT_OF_SERVICE'
} as const)
export const TopicEventType = Object.freeze({ SNAPSHOT: 'SNAPSHOT', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE' } as const)
declare const __VERSION__: string
/** The package version this bundle was built from. */
export const version: string = __VERSION__
