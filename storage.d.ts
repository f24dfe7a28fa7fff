// Types of storage (channel and user metadata), locks and history: `rtm.storage`, `rtm.lock`,
// `rtm.history` and their `storage` / `lock` events (lib/storage.js, lib/lock.js,
// lib/history.js). Names and shapes are agora-rtm-sdk 2.x's; index.d.ts re-exports all of it
// (a file of its own only to keep index.d.ts short).

import type { BaseResponse, ChannelType, RTMEvents } from './common'

// ---------------------------------------------------------------------------------------------
// Storage

/** The channel types of channel metadata and locks (a 'USER' one is refused: RTM_ERROR_INVALID_CHANNEL_TYPE). */
export type StorageChannelType = 'MESSAGE' | 'STREAM'
/** What a `storage` event is about: a channel's metadata or a user's ('NONE' is the SDK's; Piazza never sends it). */
export type StorageType = 'NONE' | 'USER' | 'CHANNEL'
/** SNAPSHOT on subscribe / join `withMetadata` and on subscribeUserMetadata; then one per change. */
export type StorageEventType = 'NONE' | 'SNAPSHOT' | 'SET' | 'UPDATE' | 'REMOVE'

/** One item to write. */
export interface MetadataItem {
  /** 1–… bytes (the server's maxMetadataKeyBytes). */
  key: string
  /** The server's maxMetadataValueBytes at most. */
  value: string
  /** -1 (default): no check; 0: only if the key does not exist yet; > 0: only if the item's revision is this. */
  revision?: number
}
/** An item of a remove: only its key (and revision) count. */
export type MetadataKeyItem = Omit<MetadataItem, 'value'> & { value?: string }

/** One stored item. */
export interface MetaDataDetail {
  value: string
  /** Grows with every change of the item. */
  revision: number
  /** Milliseconds since the epoch of its last change when written with `addTimeStamp` (else 0). */
  updated: number
  /** Who last changed it when written with `addUserId` (else ''). */
  authorUid: string
}
/** A whole metadata set. */
export interface StorageData {
  totalCount: number
  /** Grows with every change of the set. */
  majorRevision: number
  metadata: Record<string, MetaDataDetail>
}

export interface MetadataOptions {
  /** Compare-and-set: -1 (default) no check; else the write is refused (RTM_ERROR_STORAGE_OUTDATED_REVISION) unless it is the set's majorRevision. */
  majorRevision?: number
  /** Only the holder of this lock (of the same channel) may write (else RTM_ERROR_STORAGE_LOCK_NOT_ACQUIRED). Default ''. */
  lockName?: string
  /** Fill each written item's `updated` with the server's time (default false). */
  addTimeStamp?: boolean
  /** Fill each written item's `authorUid` with the writer's user id (default false). */
  addUserId?: boolean
}
export interface RemoveChannelMetadataOptions extends MetadataOptions {
  /** The items to remove, by key; absent: every item. */
  data?: MetadataKeyItem[]
}
export interface SetOrUpdateUserMetadataOptions extends MetadataOptions {
  /** Whose metadata (default: this user). */
  userId?: string
}
export interface RemoveUserMetadataOptions extends SetOrUpdateUserMetadataOptions {
  /** The items to remove, by key; absent: every item. */
  data?: MetadataKeyItem[]
}
export interface GetUserMetadataOptions {
  /** Whose metadata (default: this user). */
  userId?: string
}

export interface ChannelMetadataOperationResponse extends BaseResponse {
  channelName: string
  channelType: StorageChannelType
}
export interface UserMetadataOperationResponse extends BaseResponse {
  userId: string
}
export interface SetChannelMetadataResponse extends ChannelMetadataOperationResponse { totalCount: number }
export interface UpdateChannelMetadataResponse extends ChannelMetadataOperationResponse { totalCount: number }
export interface RemoveChannelMetadataResponse extends ChannelMetadataOperationResponse { totalCount: number }
export interface GetChannelMetadataResponse extends StorageData, ChannelMetadataOperationResponse {}
export interface SetUserMetadataResponse extends UserMetadataOperationResponse { totalCount: number }
export interface UpdateUserMetadataResponse extends UserMetadataOperationResponse { totalCount: number }
export interface RemoveUserMetadataResponse extends UserMetadataOperationResponse { totalCount: number }
export interface GetUserMetadataResponse extends StorageData, UserMetadataOperationResponse {}
export interface SubscribeUserMetaResponse extends UserMetadataOperationResponse {}
export interface UnsubscribeUserMetaResponse extends UserMetadataOperationResponse {}

/** Channel and user metadata (`rtm.storage`). Metadata outlives sessions. */
export declare class RTMStorage {
  private constructor()
  /** Adds or replaces items by key. */
  setChannelMetadata(channelName: string, channelType: StorageChannelType, data: MetadataItem[], options?: MetadataOptions): Promise<SetChannelMetadataResponse>
  getChannelMetadata(channelName: string, channelType: StorageChannelType): Promise<GetChannelMetadataResponse>
  /** Removes the items of `options.data`, or every item. */
  removeChannelMetadata(channelName: string, channelType: StorageChannelType, options?: RemoveChannelMetadataOptions): Promise<RemoveChannelMetadataResponse>
  /** Changes existing items. */
  updateChannelMetadata(channelName: string, channelType: StorageChannelType, data: MetadataItem[], options?: MetadataOptions): Promise<UpdateChannelMetadataResponse>
  setUserMetadata(data: MetadataItem[], options?: SetOrUpdateUserMetadataOptions): Promise<SetUserMetadataResponse>
  getUserMetadata(options?: GetUserMetadataOptions): Promise<GetUserMetadataResponse>
  removeUserMetadata(options?: RemoveUserMetadataOptions): Promise<RemoveUserMetadataResponse>
  updateUserMetadata(data: MetadataItem[], options?: SetOrUpdateUserMetadataOptions): Promise<UpdateUserMetadataResponse>
  /** `storage` events of a user's metadata: a SNAPSHOT, then one per change. */
  subscribeUserMetadata(userId: string): Promise<SubscribeUserMetaResponse>
  unsubscribeUserMetadata(userId: string): Promise<UnsubscribeUserMetaResponse>
}

/** A `storage` event: the whole metadata after the change (or at subscribe time, SNAPSHOT). */
export interface StorageEvent extends RTMEvents.BaseEvent {
  /** 'USER' for user metadata. */
  channelType: ChannelType
  /** The channel, or the user id for user metadata. */
  channelName: string
  /** Who made the change ('' for SNAPSHOT). */
  publisher: string
  storageType: StorageType
  eventType: StorageEventType
  data: StorageData
}

// ---------------------------------------------------------------------------------------------
// Locks

export type LockEventType = 'NONE' | 'SNAPSHOT' | 'SET' | 'REMOVED' | 'ACQUIRED' | 'RELEASED' | 'EXPIRED'

export interface LockDetail {
  lockName: string
  /** Its holder, '' when free. */
  owner: string
  /** Seconds a holder whose connection dropped keeps it. */
  ttl: number
}
export interface SetLockOptions {
  /** 10–300 seconds (default 10). */
  ttl?: number
}
export interface AcquireLockOptions {
  /** Held by another: wait (first come, first served) until it is free or the channel is left, instead of RTM_ERROR_LOCK_ACQUIRE_FAILED (default false). */
  retry?: boolean
}
export interface LockOperationResponse extends BaseResponse {
  channelName: string
  channelType: StorageChannelType
  lockName: string
}
export interface SetLockResponse extends LockOperationResponse {}
export interface RemoveLockResponse extends LockOperationResponse {}
export interface AcquireLockResponse extends LockOperationResponse {}
export interface ReleaseLockResponse extends LockOperationResponse {}
export interface RevokeLockResponse extends LockOperationResponse {}
export interface GetLockResponse extends BaseResponse {
  channelName: string
  channelType: StorageChannelType
  totalLocks: number
  lockDetails: LockDetail[]
}

/** Named distributed locks of channels (`rtm.lock`). A holder that logs out releases at once. */
export declare class RTMLock {
  private constructor()
  setLock(channelName: string, channelType: StorageChannelType, lockName: string, options?: SetLockOptions): Promise<SetLockResponse>
  removeLock(channelName: string, channelType: StorageChannelType, lockName: string): Promise<RemoveLockResponse>
  acquireLock(channelName: string, channelType: StorageChannelType, lockName: string, options?: AcquireLockOptions): Promise<AcquireLockResponse>
  releaseLock(channelName: string, channelType: StorageChannelType, lockName: string): Promise<ReleaseLockResponse>
  /** Takes the lock away from `owner`. */
  revokeLock(channelName: string, channelType: StorageChannelType, lockName: string, owner: string): Promise<RevokeLockResponse>
  getLock(channelName: string, channelType: StorageChannelType): Promise<GetLockResponse>
}

/** A `lock` event, to subscribers `withLock`. */
export interface LockEvent extends RTMEvents.BaseEvent {
  channelType: StorageChannelType
  channelName: string
  eventType: LockEventType
  /** The lock the event is about ('' for SNAPSHOT). */
  lockName: string
  ttl: number
  publisher: string
  /** Every lock of the channel (SNAPSHOT). */
  snapshot: LockDetail[]
  /** The lock's holder, '' when free. */
  owner: string
}

// ---------------------------------------------------------------------------------------------
// History

/** History is kept for message channels and user channels. */
export type HistoryChannelType = Exclude<ChannelType, 'STREAM'>
export interface GetHistoryMessageOptions {
  /** At most this many (default 100; the server's maxHistoryPage at most). */
  messageCount?: number
  /** The newer bound, milliseconds since the epoch; 0 (default): now. A page's `newStart` continues there. */
  start?: number
  /** The older bound; 0 (default): the oldest kept. */
  end?: number
}
export interface HistoryMessage {
  /** A string for STRING messages, a Uint8Array for BINARY ones (decrypted with the client's key). */
  message: string | Uint8Array
  messageType: 'STRING' | 'BINARY'
  customType: string
  publisher: string
  /** When the server received it, milliseconds since the epoch. */
  timestamp: number
}
export interface GetMessagesResponse extends BaseResponse {
  /** Newest first. */
  messageList: HistoryMessage[]
  count: number
  /** The `start` of the next (older) page; 0 when there is none. */
  newStart: number
}

/** Messages kept by `publish(…, { storeInHistory: true })` (`rtm.history`). */
export declare class RTMHistory {
  private constructor()
  /** 'USER': the messages published to user `channelName`, readable by that user only. */
  getMessages(channelName: string, channelType: HistoryChannelType, options?: GetHistoryMessageOptions): Promise<GetMessagesResponse>
}
