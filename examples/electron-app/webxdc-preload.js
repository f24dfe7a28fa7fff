'use strict'
// The preload of a webxdc app's <webview> (main.js attaches it, in the app's own partition,
// sandboxed, context-isolated): `window.webxdc` with only the realtime API, over IPC to the
// person's createWebxdc(rtm, scope) in the main process (lib/webxdc-frame.js). Web mode does
// the same over a WebSocket (renderer/webxdc-web-bridge.js).
//
// webxdc's rules hold here, synchronously: a second joinRealtimeChannel() without leave()
// throws, setListener replaces, send takes a Uint8Array of at most 128000 bytes, and a left
// channel throws on any use.
const { contextBridge, ipcRenderer } = require('electron')

const MAX_BYTES = 128000
/** @type {{ selfAddr: string, selfName: string } | { error: string }} */
const self = ipcRenderer.sendSync('webxdc:self')

/** The joined channel's state, or null. @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean } | null} */
let current = null
ipcRenderer.on('webxdc:data', (_event, /** @type {Uint8Array} */ data) => {
  if (current && current.listener) current.listener(data)
})
ipcRenderer.on('webxdc:error', (_event, /** @type {{ message: string }} */ error) => console.error(`webxdc: ${error.message}`))

function joinRealtimeChannel () {
  if (current) throw new Error('joinRealtimeChannel: the realtime channel is already joined; leave() it first')
  /** @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean }} */
  const state = { listener: null, left: false }
  current = state
  ipcRenderer.send('webxdc:call', 'join')
  const check = () => { if (state.left) throw new Error('this realtime channel was left; call webxdc.joinRealtimeChannel() again') }
  return {
    /** @param {(data: Uint8Array) => void} listener */
    setListener (listener) {
      check()
      if (typeof listener !== 'function') throw new TypeError('listener must be a function')
      state.listener = listener
    },
    /** @param {Uint8Array} data */
    send (data) {
      check()
      if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
      if (data.length > MAX_BYTES) throw new RangeError(`data is ${data.length} bytes; at most ${MAX_BYTES} are allowed`)
      ipcRenderer.send('webxdc:call', 'send', data)
    },
    leave () {
      check()
      state.left = true
      state.listener = null
      current = null
      ipcRenderer.send('webxdc:call', 'leave')
    }
  }
}

if ('error' in self) {
  console.error(`webxdc: ${self.error}`)
} else {
  contextBridge.exposeInMainWorld('webxdc', { selfAddr: self.selfAddr, selfName: self.selfName, joinRealtimeChannel })
}
