'use strict'
// The bridge between the renderer (isolated, no Node) and the main process: a small API on
// `window.piazza` (typed in renderer/piazza.d.ts). Each call goes over IPC to the window's
// RoomSession; events come back on one channel.
const { contextBridge, ipcRenderer } = require('electron')

/**
 * @param {string} method
 * @param {unknown} [args]
 */
const call = (method, args) => ipcRenderer.invoke('piazza:call', method, args)

contextBridge.exposeInMainWorld('piazza', {
  /** @param {{ appId: string, userId: string, room: string }} login */
  login: (login) => call('login', login),
  leave: () => call('leave'),
  /** @param {string} text */
  sendChat: (text) => call('sendChat', { text }),
  /** @param {boolean} typing */
  setTyping: (typing) => call('setTyping', { typing }),
  /** @param {string} userId */
  removeMember: (userId) => call('removeMember', { userId }),
  dismissRoom: () => call('dismissRoom'),
  /** @param {string} app a folder of webxdc-apps/ */
  openWebxdc: (app) => call('openWebxdc', { app }),
  /**
   * @param {(event: string, payload: any) => void} listener
   * @returns {() => void} stops listening
   */
  onEvent: (listener) => {
    /** @param {Electron.IpcRendererEvent} _event @param {string} name @param {any} payload */
    const wrapped = (_event, name, payload) => listener(name, payload)
    ipcRenderer.on('piazza:event', wrapped)
    return () => { ipcRenderer.removeListener('piazza:event', wrapped) }
  }
})
