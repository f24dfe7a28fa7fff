//! The error codes: one table, one row per code — `Variant = number, "NAME", "description";` —
//! from which `error_codes!` generates the [`ErrorCode`] enum, its name, number and description
//! lookups and the list of every code. The numbers and names are those of the RTM 2 SDK
//! (`agora-rtm-sdk` 2.x, `RTM_ERROR_*`) and of the TRTC room codes (`trtc-electron-sdk`,
//! `ERR_*`), so code written against those SDKs keeps working. Edit a row here, then regenerate
//! docs/ERRORS.md with `piazza-server errors` (tests/docs.rs checks that it is current).

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $name:literal, $description:literal;)*) => {
        /// An error code: the RTM 2 codes (rejections of RTM calls) and the TRTC codes rooms
        /// report through `onEnterRoom` / `onError`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "`: ", $description)]
                $variant = $code,
            )*
        }

        impl ErrorCode {
            /// Every code, in table order (for docs and the exported constants).
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),*];

            /// The symbolic name, `RTM_ERROR_*` or (TRTC) `ERR_*`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// A one-line description, for the error table in the docs and `errorTable()`.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$variant => $description,)*
                }
            }

            /// The numeric code.
            pub fn code(self) -> i32 {
                self as i32
            }

            /// Looks a numeric code up (unknown numbers map to `None`).
            pub fn from_code(code: i32) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    Ok = 0, "RTM_ERROR_OK", "No error.";

    NotInitialized = -10001, "RTM_ERROR_NOT_INITIALIZED", "Not initialized";
    NotLogin = -10002, "RTM_ERROR_NOT_LOGIN", "The call needs a logged-in client (call `login` first).";
    InvalidAppId = -10003, "RTM_ERROR_INVALID_APP_ID",
        "The app id is empty, too long or has characters outside the allowed set.";
    InvalidEventHandler = -10004, "RTM_ERROR_INVALID_EVENT_HANDLER", "Invalid event handler";
    InvalidToken = -10005, "RTM_ERROR_INVALID_TOKEN",
        "The token is missing, malformed or its signature does not verify.";
    InvalidUserId = -10006, "RTM_ERROR_INVALID_USER_ID",
        "The user id is empty, longer than 64 characters or has characters outside the allowed set.";
    InitServiceFailed = -10007, "RTM_ERROR_INIT_SERVICE_FAILED", "The server could not start (e.g. the port is taken).";
    InvalidChannelName = -10008, "RTM_ERROR_INVALID_CHANNEL_NAME",
        "The channel name is empty, longer than 64 characters or has characters outside the allowed set.";
    TokenExpired = -10009, "RTM_ERROR_TOKEN_EXPIRED", "The token's expiry has passed.";
    LoginNoServerResources = -10010, "RTM_ERROR_LOGIN_NO_SERVER_RESOURCES", "Login no server resources";
    LoginTimeout = -10011, "RTM_ERROR_LOGIN_TIMEOUT", "No server could be reached within the login timeout.";
    LoginRejected = -10012, "RTM_ERROR_LOGIN_REJECTED", "The server refused the login.";
    LoginAborted = -10013, "RTM_ERROR_LOGIN_ABORTED", "Login aborted";
    InvalidParameter = -10014, "RTM_ERROR_INVALID_PARAMETER",
        "An argument or option is missing, of the wrong type or out of range; the reason names it.";
    LoginNotAuthorized = -10015, "RTM_ERROR_LOGIN_NOT_AUTHORIZED", "Login not authorized";
    InconsistentAppid = -10016, "RTM_ERROR_INCONSISTENT_APPID", "The token was issued for another app id or user id.";
    DuplicateOperation = -10017, "RTM_ERROR_DUPLICATE_OPERATION",
        "The operation is already done or under way (e.g. `login` twice).";
    InstanceAlreadyReleased = -10018, "RTM_ERROR_INSTANCE_ALREADY_RELEASED",
        "The stream channel instance was released; create a new one.";
    InvalidChannelType = -10019, "RTM_ERROR_INVALID_CHANNEL_TYPE", "The channel type is not valid for this call.";
    InvalidEncryptionParameter = -10020, "RTM_ERROR_INVALID_ENCRYPTION_PARAMETER",
        "The encryption mode, key or 32-byte salt is invalid.";
    OperationRateExceedLimitation = -10021, "RTM_ERROR_OPERATION_RATE_EXCEED_LIMITATION",
        "Too many requests are waiting for an answer.";
    ServiceNotSupported = -10022, "RTM_ERROR_SERVICE_NOT_SUPPORTED",
        "Not supported: the server does not speak this client's protocol version, or the call asks for what Piazza does not provide (webxdc updates).";
    LoginCanceled = -10023, "RTM_ERROR_LOGIN_CANCELED", "Login canceled";
    InvalidPrivateConfig = -10024, "RTM_ERROR_INVALID_PRIVATE_CONFIG",
        "An endpoint or access point is not a ws:// or wss:// URL.";
    NotConnected = -10025, "RTM_ERROR_NOT_CONNECTED", "The connection dropped before the answer arrived.";
    RenewTokenTimeout = -10026, "RTM_ERROR_RENEW_TOKEN_TIMEOUT", "Renew token timeout";
    DuplicateUserId = -10027, "RTM_ERROR_DUPLICATE_USER_ID", "Duplicate user id";

    ChannelNotJoined = -11001, "RTM_ERROR_CHANNEL_NOT_JOINED", "The stream channel has not been joined.";
    ChannelNotSubscribed = -11002, "RTM_ERROR_CHANNEL_NOT_SUBSCRIBED", "The channel is not subscribed.";
    ChannelExceedTopicUserLimitation = -11003, "RTM_ERROR_CHANNEL_EXCEED_TOPIC_USER_LIMITATION",
        "Channel exceed topic user limitation";
    ChannelInReuse = -11004, "RTM_ERROR_CHANNEL_IN_REUSE", "Channel in reuse";
    ChannelInstanceExceedLimitation = -11005, "RTM_ERROR_CHANNEL_INSTANCE_EXCEED_LIMITATION",
        "Too many channels subscribed or joined by this client.";
    ChannelInErrorState = -11006, "RTM_ERROR_CHANNEL_IN_ERROR_STATE", "Channel in error state";
    ChannelJoinFailed = -11007, "RTM_ERROR_CHANNEL_JOIN_FAILED", "Channel join failed";
    ChannelInvalidTopicName = -11008, "RTM_ERROR_CHANNEL_INVALID_TOPIC_NAME",
        "The topic name is empty, too long or has characters outside the allowed set.";
    ChannelInvalidMessage = -11009, "RTM_ERROR_CHANNEL_INVALID_MESSAGE",
        "The message is not valid (e.g. a STRING message that is not UTF-8).";
    ChannelMessageLengthExceedLimitation = -11010, "RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION",
        "The payload is larger than the server's maxMessageBytes.";
    ChannelInvalidUserList = -11011, "RTM_ERROR_CHANNEL_INVALID_USER_LIST", "Channel invalid user list";
    ChannelNotAvailable = -11012, "RTM_ERROR_CHANNEL_NOT_AVAILABLE", "Channel not available";
    ChannelTopicNotSubscribed = -11013, "RTM_ERROR_CHANNEL_TOPIC_NOT_SUBSCRIBED", "Channel topic not subscribed";
    ChannelExceedTopicLimitation = -11014, "RTM_ERROR_CHANNEL_EXCEED_TOPIC_LIMITATION",
        "Too many topics joined or subscribed in this stream channel.";
    ChannelJoinTopicFailed = -11015, "RTM_ERROR_CHANNEL_JOIN_TOPIC_FAILED", "Channel join topic failed";
    ChannelTopicNotJoined = -11016, "RTM_ERROR_CHANNEL_TOPIC_NOT_JOINED", "Publishing needs `joinTopic` first.";
    ChannelTopicNotExist = -11017, "RTM_ERROR_CHANNEL_TOPIC_NOT_EXIST", "Channel topic not exist";
    ChannelInvalidTopicMeta = -11018, "RTM_ERROR_CHANNEL_INVALID_TOPIC_META", "Channel invalid topic meta";
    ChannelSubscribeTimeout = -11019, "RTM_ERROR_CHANNEL_SUBSCRIBE_TIMEOUT",
        "No answer to the subscribe within the request timeout.";
    ChannelSubscribeTooFrequent = -11020, "RTM_ERROR_CHANNEL_SUBSCRIBE_TOO_FREQUENT", "Channel subscribe too frequent";
    ChannelSubscribeFailed = -11021, "RTM_ERROR_CHANNEL_SUBSCRIBE_FAILED", "Channel subscribe failed";
    ChannelUnsubscribeFailed = -11022, "RTM_ERROR_CHANNEL_UNSUBSCRIBE_FAILED", "Channel unsubscribe failed";
    ChannelEncryptMessageFailed = -11023, "RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED", "Channel encrypt message failed";
    ChannelPublishMessageFailed = -11024, "RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_FAILED", "Channel publish message failed";
    ChannelPublishMessageTooFrequent = -11025, "RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_TOO_FREQUENT",
        "The channel's publish rate limit was hit; the message was refused, not dropped.";
    ChannelPublishMessageTimeout = -11026, "RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_TIMEOUT",
        "No answer to the publish within the request timeout.";
    ChannelNotConnected = -11027, "RTM_ERROR_CHANNEL_NOT_CONNECTED", "Channel not connected";
    ChannelLeaveFailed = -11028, "RTM_ERROR_CHANNEL_LEAVE_FAILED", "Channel leave failed";
    ChannelCustomTypeLengthOverflow = -11029, "RTM_ERROR_CHANNEL_CUSTOM_TYPE_LENGTH_OVERFLOW",
        "customType is longer than 32 bytes.";
    ChannelInvalidCustomType = -11030, "RTM_ERROR_CHANNEL_INVALID_CUSTOM_TYPE", "Channel invalid custom type";
    ChannelUnsupportedMessageType = -11031, "RTM_ERROR_CHANNEL_UNSUPPORTED_MESSAGE_TYPE",
        "Channel unsupported message type";
    ChannelPresenceNotReady = -11032, "RTM_ERROR_CHANNEL_PRESENCE_NOT_READY", "Channel presence not ready";
    ChannelReceiverOffline = -11033, "RTM_ERROR_CHANNEL_RECEIVER_OFFLINE",
        "The user of a USER-channel message is not online.";
    ChannelJoinCanceled = -11034, "RTM_ERROR_CHANNEL_JOIN_CANCELED", "Channel join canceled";
    ChannelReceiverOfflineButStoreSucceeded = -11035, "RTM_ERROR_CHANNEL_RECEIVER_OFFLINE_BUT_STORE_SUCCEEDED",
        "Channel receiver offline but store succeeded";
    ChannelReceiverOfflineAndStoreFailed = -11036, "RTM_ERROR_CHANNEL_RECEIVER_OFFLINE_AND_STORE_FAILED",
        "Channel receiver offline and store failed";
    ChannelMessageDeliveredButStoreFailed = -11037, "RTM_ERROR_CHANNEL_MESSAGE_DELIVERED_BUT_STORE_FAILED",
        "Channel message delivered but store failed";
    ChannelSubscribePermissionDenied = -11038, "RTM_ERROR_CHANNEL_SUBSCRIBE_PERMISSION_DENIED",
        "Channel subscribe permission denied";
    ChannelPublishPermissionDenied = -11039, "RTM_ERROR_CHANNEL_PUBLISH_PERMISSION_DENIED",
        "Channel publish permission denied";
    ChannelSubscribeCanceled = -11040, "RTM_ERROR_CHANNEL_SUBSCRIBE_CANCELED", "Channel subscribe canceled";

    StorageOperationFailed = -12001, "RTM_ERROR_STORAGE_OPERATION_FAILED", "Storage operation failed";
    StorageMetadataItemExceedLimitation = -12002, "RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION",
        "Storage metadata item exceed limitation";
    StorageInvalidMetadataItem = -12003, "RTM_ERROR_STORAGE_INVALID_METADATA_ITEM", "Storage invalid metadata item";
    StorageInvalidArgument = -12004, "RTM_ERROR_STORAGE_INVALID_ARGUMENT", "Storage invalid argument";
    StorageInvalidRevision = -12005, "RTM_ERROR_STORAGE_INVALID_REVISION", "Storage invalid revision";
    StorageMetadataLengthOverflow = -12006, "RTM_ERROR_STORAGE_METADATA_LENGTH_OVERFLOW",
        "Storage metadata length overflow";
    StorageInvalidLockName = -12007, "RTM_ERROR_STORAGE_INVALID_LOCK_NAME", "Storage invalid lock name";
    StorageLockNotAcquired = -12008, "RTM_ERROR_STORAGE_LOCK_NOT_ACQUIRED", "Storage lock not acquired";
    StorageInvalidKey = -12009, "RTM_ERROR_STORAGE_INVALID_KEY", "Storage invalid key";
    StorageInvalidValue = -12010, "RTM_ERROR_STORAGE_INVALID_VALUE", "Storage invalid value";
    StorageKeyLengthOverflow = -12011, "RTM_ERROR_STORAGE_KEY_LENGTH_OVERFLOW", "Storage key length overflow";
    StorageValueLengthOverflow = -12012, "RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW", "Storage value length overflow";
    StorageDuplicateKey = -12013, "RTM_ERROR_STORAGE_DUPLICATE_KEY", "Storage duplicate key";
    StorageOutdatedRevision = -12014, "RTM_ERROR_STORAGE_OUTDATED_REVISION", "Storage outdated revision";
    StorageNotSubscribe = -12015, "RTM_ERROR_STORAGE_NOT_SUBSCRIBE", "Storage not subscribe";
    StorageInvalidMetadataInstance = -12016, "RTM_ERROR_STORAGE_INVALID_METADATA_INSTANCE",
        "Storage invalid metadata instance";
    StorageSubscribeUserExceedLimitation = -12017, "RTM_ERROR_STORAGE_SUBSCRIBE_USER_EXCEED_LIMITATION",
        "Storage subscribe user exceed limitation";
    StorageOperationTimeout = -12018, "RTM_ERROR_STORAGE_OPERATION_TIMEOUT", "Storage operation timeout";
    StorageNotAvailable = -12019, "RTM_ERROR_STORAGE_NOT_AVAILABLE", "Storage not available";
    StoragePermissionDenied = -12020, "RTM_ERROR_STORAGE_PERMISSION_DENIED", "Storage permission denied";

    PresenceNotConnected = -13001, "RTM_ERROR_PRESENCE_NOT_CONNECTED", "Presence not connected";
    PresenceNotWritable = -13002, "RTM_ERROR_PRESENCE_NOT_WRITABLE", "Presence not writable";
    PresenceInvalidArgument = -13003, "RTM_ERROR_PRESENCE_INVALID_ARGUMENT", "Presence invalid argument";
    PresenceCachedTooManyStates = -13004, "RTM_ERROR_PRESENCE_CACHED_TOO_MANY_STATES",
        "Presence cached too many states";
    PresenceStateCountOverflow = -13005, "RTM_ERROR_PRESENCE_STATE_COUNT_OVERFLOW", "Presence state count overflow";
    PresenceInvalidStateKey = -13006, "RTM_ERROR_PRESENCE_INVALID_STATE_KEY", "Presence invalid state key";
    PresenceInvalidStateValue = -13007, "RTM_ERROR_PRESENCE_INVALID_STATE_VALUE", "Presence invalid state value";
    PresenceStateKeySizeOverflow = -13008, "RTM_ERROR_PRESENCE_STATE_KEY_SIZE_OVERFLOW",
        "Presence state key size overflow";
    PresenceStateValueSizeOverflow = -13009, "RTM_ERROR_PRESENCE_STATE_VALUE_SIZE_OVERFLOW",
        "Presence state value size overflow";
    PresenceStateDuplicateKey = -13010, "RTM_ERROR_PRESENCE_STATE_DUPLICATE_KEY", "Presence state duplicate key";
    PresenceUserNotExist = -13011, "RTM_ERROR_PRESENCE_USER_NOT_EXIST", "Presence user not exist";
    PresenceOperationTimeout = -13012, "RTM_ERROR_PRESENCE_OPERATION_TIMEOUT", "Presence operation timeout";
    PresenceOperationFailed = -13013, "RTM_ERROR_PRESENCE_OPERATION_FAILED", "Presence operation failed";
    PresenceInactive = -13014, "RTM_ERROR_PRESENCE_INACTIVE", "Presence inactive";
    PresencePendingRequestCancelled = -13015, "RTM_ERROR_PRESENCE_PENDING_REQUEST_CANCELLED",
        "Presence pending request cancelled";
    PresencePendingRequestExceedLimitation = -13016, "RTM_ERROR_PRESENCE_PENDING_REQUEST_EXCEED_LIMITATION",
        "Presence pending request exceed limitation";

    LockOperationFailed = -14001, "RTM_ERROR_LOCK_OPERATION_FAILED", "Lock operation failed";
    LockOperationTimeout = -14002, "RTM_ERROR_LOCK_OPERATION_TIMEOUT", "Lock operation timeout";
    LockOperationPerforming = -14003, "RTM_ERROR_LOCK_OPERATION_PERFORMING", "Lock operation performing";
    LockAlreadyExist = -14004, "RTM_ERROR_LOCK_ALREADY_EXIST", "Lock already exist";
    LockInvalidName = -14005, "RTM_ERROR_LOCK_INVALID_NAME", "Lock invalid name";
    LockNotAcquired = -14006, "RTM_ERROR_LOCK_NOT_ACQUIRED", "Lock not acquired";
    LockAcquireFailed = -14007, "RTM_ERROR_LOCK_ACQUIRE_FAILED", "Lock acquire failed";
    LockNotExist = -14008, "RTM_ERROR_LOCK_NOT_EXIST", "Lock not exist";
    LockNotAvailable = -14009, "RTM_ERROR_LOCK_NOT_AVAILABLE", "Lock not available";
    LockPermissionDenied = -14010, "RTM_ERROR_LOCK_PERMISSION_DENIED", "Lock permission denied";

    HistoryOperationFailed = -15001, "RTM_ERROR_HISTORY_OPERATION_FAILED", "History operation failed";
    HistoryInvalidTimestamp = -15002, "RTM_ERROR_HISTORY_INVALID_TIMESTAMP", "History invalid timestamp";
    HistoryOperationTimeout = -15003, "RTM_ERROR_HISTORY_OPERATION_TIMEOUT", "History operation timeout";
    HistoryOperationNotPermitted = -15004, "RTM_ERROR_HISTORY_OPERATION_NOT_PERMITTED",
        "History operation not permitted";
    HistoryNotAvailable = -15005, "RTM_ERROR_HISTORY_NOT_AVAILABLE", "History not available";
    HistoryPermissionDenied = -15006, "RTM_ERROR_HISTORY_PERMISSION_DENIED", "History permission denied";

    TrtcRoomEnterFail = -3301, "ERR_ROOM_ENTER_FAIL",
        "TRTC: entering the room failed (e.g. removed by the host and still banned); the message says why.";
    TrtcEnterRoomTimeout = -3308, "ERR_ROOM_REQUEST_ENTER_ROOM_TIMEOUT",
        "TRTC: no server answered the room entry in time.";
    TrtcEnterRoomParamNull = -3316, "ERR_ENTER_ROOM_PARAM_NULL", "TRTC: enterRoom was called without parameters.";
    TrtcSdkAppIdInvalid = -3317, "ERR_SDK_APPID_INVALID", "TRTC: sdkAppId is not a positive integer.";
    TrtcRoomIdInvalid = -3318, "ERR_ROOM_ID_INVALID",
        "TRTC: roomId is not in 1..4294967294, strRoomId is not 1-64 bytes of TRTC's characters, or neither was given.";
    TrtcUserIdInvalid = -3319, "ERR_USER_ID_INVALID", "TRTC: the user id is not valid.";
    TrtcUserSigInvalid = -3320, "ERR_USER_SIG_INVALID",
        "TRTC: the userSig is missing, forged, expired, for another app or user, or lacks the room privilege.";
    TrtcQuitRoomTimeout = -3325, "ERR_ROOM_REQUEST_QUIT_ROOM_TIMEOUT",
        "TRTC: no answer to exitRoom in time (the room is left locally anyway).";
    TrtcUserEnteredElsewhere = -3340, "ERR_USER_ENTERED_ELSEWHERE",
        "TRTC (Piazza): the same user id entered this room from another instance, which replaced this one.";
    TrtcNotInRoom = -3341, "ERR_NOT_IN_ROOM", "TRTC (Piazza): the call needs the instance to be in a room.";
    TrtcRoomFull = -102052, "ERR_SERVER_CENTER_ROOM_FULL", "TRTC: the room has rooms.maxMembers members already.";
    TrtcUserSigExpired = -70001, "ERR_SERVER_SSO_SIG_EXPIRED",
        "TRTC: the userSig expired in the room and was not renewed (renewUserSig): the session ended, onExitRoom(0) follows.";
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_and_name_is_in_the_table_once() {
        let mut names = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
            assert!(names.insert(code.name()), "{} twice", code.name());
        }
        assert_eq!(ErrorCode::from_code(-1), None);
    }
}
