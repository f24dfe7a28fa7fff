// Types of the embedded server node (lib/server.js): Server, its options, stats and admin
// results. index.d.ts re-exports all of it (a file of its own only to keep index.d.ts short).

import type { LogLevel, LogFormat, WhoNowOptions, WhoNowResponse, WhereNowResponse } from './common'
import type {
  MetadataItem, MetadataOptions, RemoveChannelMetadataOptions as RemoveMetadataOptions, StorageChannelType,
  GetChannelMetadataResponse, SetChannelMetadataResponse, UpdateChannelMetadataResponse,
  RemoveChannelMetadataResponse, GetUserMetadataResponse, SetUserMetadataResponse, UpdateUserMetadataResponse,
  RemoveUserMetadataResponse,
} from './storage'

export interface ServerLimits {
  /** Largest message / topic message payload in bytes (default 32768). */
  maxMessageBytes?: number
  /** Publishes per second into one channel, 0 = unlimited (default 60). */
  publishRatePerChannel?: number
  /** Message channels one client may subscribe to (default 100). */
  maxSubscriptionsPerClient?: number
  /** Stream channels one client may join (default 100). */
  maxStreamChannelsPerClient?: number
  /** Users in one stream channel (default 1000). */
  maxStreamChannelUsers?: number
  /** Topics one user may publish in, per stream channel (default 8). */
  maxJoinedTopics?: number
  /** Topics one user may subscribe to, per stream channel (default 50). */
  maxSubscribedTopics?: number
  /** Publishers one user may subscribe to in one topic (default 64). */
  maxPublishersPerTopicSubscription?: number
  /** Largest realtime-channel datagram in bytes (default 128000). */
  maxRealtimeBytes?: number
  /** Presence states one user may hold per channel (default 32). */
  maxStatesPerUser?: number
}

export interface ServerConnectionOptions {
  /** Connections accepted at once (default 100000). */
  maxConnections?: number
  /** Bytes queued for one connection before it is closed as a slow consumer (default 4 MiB). */
  outboundQueueBytes?: number
  /** Bytes queued for all connections together (unsent, and sent but not yet acknowledged); past it the biggest queues are shed first — their unacknowledged frames forgotten, then their connections closed with 4003 (default 1 GiB; 0 = no node-wide bound; else at least `outboundQueueBytes`). */
  outboundBudgetBytes?: number
  /** Largest WebSocket message accepted (default 256 KiB, at most 64 MiB). */
  maxFrameBytes?: number
  /** Milliseconds from TCP accept to a complete hello (default 5000). */
  handshakeTimeoutMs?: number
  /** Bytes of sent frames kept per session so a reconnecting client resumes losslessly (default 1 MiB). */
  resumeBufferBytes?: number
  /** Connections accepted but without a valid hello yet, at once; more get HTTP 503 (default 1024). */
  maxPendingHandshakes?: number
  /** New connections per second from one IP address, a burst of as many; more get HTTP 429. 0 = unlimited (default 100). */
  connectionsPerIpPerSecond?: number
  /** Frames per second one connection may send, a burst of twice as many; more close it with 1008. 0 = unlimited (default 10000). */
  framesPerSecond?: number
}

/** An app with token authentication. */
export interface ServerAppOptions {
  /** The secret its tokens are signed with (at least 16 characters); see generateToken. */
  certificate: string
  /**
   * Bearer key of this app's backend API calls: `/v1/apps/<this app>/…` only (at least 16
   * characters). The admin token reaches every app.
   */
  apiKey?: string
}

/** Serve wss:// with a certificate chain and its private key (PEM files). */
export interface ServerTlsOptions {
  certPath: string
  keyPath: string
}

export interface ServerRoomsOptions {
  /** Seconds a dropped member stays before onRemoteUserLeaveRoom(userId, 1), for TRTCClouds without presenceTimeout (default 10). */
  dropTimeoutSeconds?: number
  /** Seconds a removed user cannot re-enter the room (default 60). */
  kickBanSeconds?: number
  /** Members of one room (default 1000). */
  maxMembers?: number
}

export interface ServerPresenceOptions {
  /** Above this many visible users a channel switches to INTERVAL events (default 50). */
  intervalThreshold?: number
  /** Seconds between INTERVAL events (default 5). */
  intervalSeconds?: number
  /**
   * Users listed in the SNAPSHOT a joiner gets (default 200). A bigger channel's SNAPSHOT lists
   * the first ones by user id and gives the channel's size in `interval.totalOccupancy`;
   * `whoNow` pages through everyone.
   */
  snapshotMaxUsers?: number
}

export interface ServerOptions {
  /** Interface to listen on (default '127.0.0.1'). */
  host?: string
  /** Port; 0 (default) picks a free one: read `server.port`. */
  port?: number
  limits?: ServerLimits
  connection?: ServerConnectionOptions
  presence?: ServerPresenceOptions
  rooms?: ServerRoomsOptions
  /** Bearer token of the backend HTTP API, every app (at least 16 characters); without it and without apps' `apiKey`s the `/v1/` routes are off. */
  adminToken?: string
  /** Bearer token that reads `GET /metrics` and nothing else (at least 16 characters), for a scraper that should not hold the admin token. */
  metricsToken?: string
  /**
   * Apps by id, each with the certificate its tokens are signed with. Without any, the server
   * runs in an open development mode: any app id, user id and token is accepted (and it warns).
   */
  apps?: Record<string, ServerAppOptions>
  /** Serve wss:// instead of ws://. */
  tls?: ServerTlsOptions
  logLevel?: LogLevel
  logFormat?: LogFormat
  /**
   * Cluster mode: the Redis server the nodes share ('redis://host:port/db'). The node must
   * reach it at start; later outages are survived. Without it the node is alone.
   */
  redisUrl?: string
  cluster?: ServerClusterOptions
  /** Where metadata, locks and history live, and their limits. */
  storage?: ServerStorageOptions
  /** POST signed events to your backend (docs/OPERATIONS.md "Webhooks"). */
  webhooks?: ServerWebhooksOptions
}

/**
 * Webhooks: `user.login`, `user.logout` (with `reason`), `user.timeout`, `room.enter`,
 * `room.exit` (with `reason`), and for opted-in channels `presence.join` / `presence.leave` and
 * `message.publish`, POSTed as JSON with `x-piazza-timestamp` and
 * `x-piazza-signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
 */
export interface ServerWebhooksOptions {
  /** Every event goes to each (http:// or https://). */
  urls: string[]
  /** The signing key (at least 16 characters). */
  secret: string
  /** Channels whose presence joins and leaves are sent ('*' = any run of characters). Default none. */
  presenceChannels?: string[]
  /** Message channels whose messages are sent. Default none. */
  messageChannels?: string[]
  /** Events waiting per URL; past it the newest are dropped and counted (default 10000). */
  queueSize?: number
  /** One attempt's limit in ms (default 5000). */
  timeoutMs?: number
  /** Attempts per event (default 6). */
  maxAttempts?: number
  /** The first retry's wait in ms, doubling up to 30 s (default 500). */
  retryBaseMs?: number
}

/**
 * Storage (channel and user metadata), locks and message history. Without `path` (and without
 * `redisUrl`) they live in memory; with `path` in a database file in that directory, which
 * survives restarts; in cluster mode in Redis.
 */
export interface ServerStorageOptions {
  /** Directory of the database file (created when missing). */
  path?: string
  /** Items in one channel's or user's metadata (default 256; more: RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION). */
  maxMetadataItems?: number
  /** Longest item key in bytes (default 256; RTM_ERROR_STORAGE_KEY_LENGTH_OVERFLOW). */
  maxMetadataKeyBytes?: number
  /** Longest item value in bytes (default 32768; RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW). */
  maxMetadataValueBytes?: number
  /** Users whose metadata one client may subscribe to (default 100; RTM_ERROR_STORAGE_SUBSCRIBE_USER_EXCEED_LIMITATION). */
  maxUserMetadataSubscriptions?: number
  /** Locks in one channel (default 100; RTM_ERROR_LOCK_OPERATION_FAILED). */
  maxLocksPerChannel?: number
  /** Messages kept per channel or user (default 1000); older ones are dropped. */
  historyMaxMessages?: number
  /** Seconds a stored message is kept, 0 = until the count drops it (default 604800, a week). */
  historyMaxAgeSeconds?: number
  /** Largest `messageCount` of one getMessages page (default 100; more: RTM_ERROR_INVALID_PARAMETER). */
  maxHistoryPage?: number
  /** Largest whole metadata of a channel or user as JSON, bytes (default 1048576, capped at half of `connection.outboundQueueBytes`; more: RTM_ERROR_STORAGE_METADATA_LENGTH_OVERFLOW). */
  maxMetadataBytes?: number
  /** Bytes of messages in one getMessages answer; past them the page ends early with `newStart` (default 1048576, capped at half of `connection.outboundQueueBytes`). */
  historyPageBytes?: number
  /**
   * With `path`: 0 (the default) puts a `storeInHistory` message on disk before its answer, as
   * metadata and lock changes always are; N (at most 60000) answers once it is in the database
   * file (safe from a crash of the server) and puts it on disk within N ms — for slow disks.
   */
  historySyncMs?: number
}

/** Cluster mode settings (with redisUrl). */
export interface ServerClusterOptions {
  /** Prefix of every Redis key and pub/sub channel; the nodes of one cluster share it (default 'piazza'). */
  prefix?: string
  /** This node's id (default: random). */
  nodeId?: string
  /** Milliseconds without a heartbeat after which a node is dead and its users time out (default 3000). */
  nodeTimeoutMs?: number
  /**
   * Messages of each message channel kept in Redis, so that a client whose node died gets what it
   * missed from another node, once and in order (default 1000, at most 100000; 0 = off).
   */
  recoveryMessages?: number
  /** Seconds a channel's recovery log outlives its last message, and the oldest message it keeps (default 300, 1–86400). */
  recoverySeconds?: number
}

export interface ServerStats {
  connections: number
  users: number
  channels: number
  streamChannels: number
  rooms: number
  messagesIn: number
  messagesOut: number
  dropped: number
  slowConsumers: number
  badFrames: number
  /** Realtime datagrams dropped for congested receivers (best effort, counted). */
  realtimeDropped: number
  /** Bytes queued for every connection now (unsent, and sent but not acknowledged), within 4 KiB per busy connection, against `connection.outboundBudgetBytes`. */
  outboundBytes: number
  /** Connections closed as slow consumers (also in `slowConsumers`) because all queues together passed `connection.outboundBudgetBytes`. */
  budgetEvictions: number
}

/** A TRTC room id: a number (roomId, 1..4294967294) or a string (strRoomId); separate namespaces. */
export type RoomId = number | string

export interface RemoveUserResult {
  removed: string[]
  notInRoom: string[]
}
export interface DismissRoomResult {
  /** Members that were in the room. */
  members: number
}

/** A refused admin call: `code` is a TRTC server-API style code such as 'FailedOperation.RoomNotExist'. */
export declare class PiazzaAdminError extends Error {
  readonly name: 'PiazzaAdminError'
  code: string
  /** The HTTP status the same refusal has on the admin HTTP API. */
  status: number
}

/** Options of `server.publish`. */
export interface ServerPublishOptions {
  /** 'MESSAGE' (default): to the channel's subscribers; 'USER': to the online user named by channelName. */
  channelType?: 'MESSAGE' | 'USER'
  customType?: string
  /** Also keep it in the channel's (or the user's) history. */
  storeInHistory?: boolean
  /** The user id receivers see as the publisher (default 'server'). */
  publisher?: string
}
export interface ServerPublishResponse {
  timestamp: number
  channelName: string
}
export interface RoomMembersResult {
  roomId: RoomId
  /** The room's scene, when it has members on this node. */
  scene?: 'videoCall' | 'live' | 'audioCall' | 'voiceChatRoom'
  total: number
  /** Sorted by user id; on every node. */
  members: { userId: string, role: 'anchor' | 'audience' }[]
  timestamp: number
}

/** `server.overview()`: the node and its apps. */
export interface ServerOverview {
  node: ServerStats
  apps: { appId: string, sessions: number, channels: number, streamChannels: number, rooms: number }[]
  timestamp: number
}
/** `server.channels(appId)`: the app's channels on this node. */
export interface ServerChannelList {
  channels: { channelName: string, channelType: 'MESSAGE' | 'STREAM', members: number }[]
  /** More than 1,000 channels: the first 1,000 by name are listed. */
  truncated: boolean
  timestamp: number
}
/** `server.rooms(appId)`: the app's rooms on this node. */
export interface ServerRoomList {
  rooms: { roomId: RoomId, scene: 'videoCall' | 'live' | 'audioCall' | 'voiceChatRoom', members: { userId: string, role: 'anchor' | 'audience' }[] }[]
  truncated: boolean
  timestamp: number
}

/** An embedded Piazza server node. */
export declare class Server {
  private constructor(handle: never)
  /** Starts listening; rejects with RTM_ERROR_INVALID_PARAMETER on bad options. */
  static start(options?: ServerOptions): Promise<Server>
  /** 'ws://host:port' */
  readonly url: string
  readonly port: number
  stats(): Promise<ServerStats>
  /**
   * TRTC RemoveUser: up to 10 users leave the room with onExitRoom(1); the others get
   * onRemoteUserLeaveRoom(userId, 2); they cannot re-enter for rooms.kickBanSeconds.
   */
  removeUser(appId: string | number, roomId: RoomId, userIds: string[]): Promise<RemoveUserResult>
  /** TRTC DismissRoom: every member gets onExitRoom(2); the room is gone. */
  dismissRoom(appId: string | number, roomId: RoomId): Promise<DismissRoomResult>
  /** The members of a TRTC room on every node, with their roles. */
  roomMembers(appId: string | number, roomId: RoomId): Promise<RoomMembersResult>
  /** This node's counters and its apps (the admin page's overview). */
  overview(): Promise<ServerOverview>
  /** An app's channels on this node with their member counts. */
  channels(appId: string | number): Promise<ServerChannelList>
  /** An app's rooms on this node with their members and roles. */
  rooms(appId: string | number): Promise<ServerRoomList>
  /**
   * Publishes from the backend (the HTTP API's `POST …/messages`): a string is a STRING
   * message, a Uint8Array a BINARY one. Rejects with a PiazzaAdminError whose code is the RTM
   * name (e.g. 'RTM_ERROR_CHANNEL_RECEIVER_OFFLINE') and whose status is the HTTP API's.
   */
  publish(appId: string | number, channelName: string, message: string | Uint8Array, options?: ServerPublishOptions): Promise<ServerPublishResponse>
  /** presence.whoNow from the backend: 50 users a page. */
  whoNow(appId: string | number, channelName: string, channelType?: 'MESSAGE' | 'STREAM', options?: WhoNowOptions): Promise<WhoNowResponse>
  /** presence.whereNow from the backend. */
  whereNow(appId: string | number, userId: string): Promise<WhereNowResponse>
  getChannelMetadata(appId: string | number, channelName: string, channelType: StorageChannelType): Promise<GetChannelMetadataResponse>
  /** Adds or replaces items by key (`addUserId` records 'server' as the author). */
  setChannelMetadata(appId: string | number, channelName: string, channelType: StorageChannelType, data: MetadataItem[], options?: MetadataOptions): Promise<SetChannelMetadataResponse>
  updateChannelMetadata(appId: string | number, channelName: string, channelType: StorageChannelType, data: MetadataItem[], options?: MetadataOptions): Promise<UpdateChannelMetadataResponse>
  /** Removes the items of `options.data`, or every item. */
  removeChannelMetadata(appId: string | number, channelName: string, channelType: StorageChannelType, options?: RemoveMetadataOptions): Promise<RemoveChannelMetadataResponse>
  getUserMetadata(appId: string | number, userId: string): Promise<GetUserMetadataResponse>
  setUserMetadata(appId: string | number, userId: string, data: MetadataItem[], options?: MetadataOptions): Promise<SetUserMetadataResponse>
  updateUserMetadata(appId: string | number, userId: string, data: MetadataItem[], options?: MetadataOptions): Promise<UpdateUserMetadataResponse>
  /** Removes the items of `options.data`, or every item. */
  removeUserMetadata(appId: string | number, userId: string, options?: RemoveMetadataOptions): Promise<RemoveUserMetadataResponse>
  /** Graceful close: clients are told, queues drain. Idempotent. */
  close(): Promise<void>
}
