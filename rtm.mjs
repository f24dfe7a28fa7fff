// piazza-rtc/rtm, ESM entry: `import AgoraRTM from 'piazza-rtc/rtm'` (the same object as rtm.js).
import AgoraRTM from './rtm.js'

export default AgoraRTM
