// ESM entry: the same module as index.js.
import piazza from './index.js'

export const {
  Server, RTM, RTMClient, RTMError, RTMStreamChannel, RTMPresence, RealtimeChannel, ErrorCode, ChannelType, MessageType, LinkState,
  PresenceEventType, TopicEventType, errorTable, version,
} = piazza
export default piazza
