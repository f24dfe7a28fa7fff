// ESM entry: the same module as index.js.
import piazza from './index.js'

export const {
  generateToken, Server, RTM, RTMClient, RTMError, RTMStreamChannel, RTMPresence, RTMStorage, RTMLock, RTMHistory, RealtimeChannel, ErrorCode, TRTCErrorCode, TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode, PiazzaAdminError, ChannelType, MessageType, LinkState,
  PresenceEventType, TopicEventType, errorTable, setLogger, version,
} = piazza
export default piazza
