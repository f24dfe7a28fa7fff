'use strict'
// Electron's main process: the window, the Piazza clients (one RoomSession per window), and
// the IPC between them. The renderer never touches Node or the addon: it calls the small
// `window.piazza` API that preload.js exposes.
//
// A webxdc app of the room (webxdc-apps/<app>/) runs in a <webview> of the window, in its own
// partition `webxdc-<app>`, sandboxed, with webxdc-preload.js as its only bridge: its
// `window.webxdc` calls come here over IPC ('webxdc:*') and run on the person's
// createWebxdc(rtm, scope) (lib/webxdc-frame.js). The partition loads nothing but the app's
// own folder (webxdc apps have no network).
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { app, BrowserWindow, ipcMain, net, session: electronSession } = require('electron')
const piazza = require('piazza-rtc')
const { RoomSession } = require('./lib/session')
const { WEBXDC_APPS } = require('./lib/webxdc-frame')
const { startBackend } = require('./lib/backend')

const WEBXDC_DIR = path.join(__dirname, 'webxdc-apps')
/** The connected webxdc frames, by the guest's webContents id. @type {Map<number, import('./lib/webxdc-frame').WebxdcFrame>} */
const frames = new Map()

/** The webxdc app a <webview> src belongs to, or null. @param {string} src */
function webxdcAppOf (src) {
  for (const name of WEBXDC_APPS) {
    if (src === pathToFileURL(path.join(WEBXDC_DIR, name, 'index.html')).href) return name
  }
  return null
}

/**
 * Confines a webxdc app's partition to its folder: file: URLs outside it are not found, no
 * network request leaves, and the app's `webxdc.js` is empty (webxdc-preload.js has already
 * put window.webxdc in place). @param {string} name
 */
function confineWebxdcPartition (name) {
  const root = pathToFileURL(path.join(WEBXDC_DIR, name)).href + '/'
  const partition = electronSession.fromPartition(`webxdc-${name}`)
  partition.protocol.handle('file', (request) => {
    if (request.url === root + 'webxdc.js') return new Response('', { headers: { 'content-type': 'text/javascript' } })
    if (!request.url.startsWith(root)) return new Response('not found', { status: 404 })
    return net.fetch(request.url, { bypassCustomProtocolHandlers: true })
  })
  partition.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !/^(file|data|blob):/.test(details.url) })
  })
}

/** @type {Awaited<ReturnType<typeof startBackend>> | undefined} */
let backend
/** The session of each window, by its webContents id. */
const sessions = new Map()

/** @returns {Promise<void>} */
async function createWindow () {
  if (!backend) throw new Error('the backend starts first')
  const win = new BrowserWindow({
    width: 980,
    height: 700,
    title: 'Piazza rooms',
    webPreferences: {
      preload: path.join(__dirname, 'preload.js'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webviewTag: true
    }
  })
  const id = win.webContents.id
  const session = new RoomSession({
    piazza,
    endpoint: backend.url,
    admin: backend.admin,
    send: (event, payload) => {
      if (!win.isDestroyed()) win.webContents.send('piazza:event', event, payload)
    }
  })
  sessions.set(id, session)
  // A <webview> may only show a webxdc app, with webxdc-preload.js, in the app's partition
  // (its frame is connected when the preload asks for `webxdc:self`).
  win.webContents.on('will-attach-webview', (event, webPreferences, params) => {
    const name = webxdcAppOf(params.src)
    if (!name) return event.preventDefault()
    webPreferences.preload = path.join(__dirname, 'webxdc-preload.js')
    webPreferences.contextIsolation = true
    webPreferences.nodeIntegration = false
    webPreferences.sandbox = true
    params.partition = `webxdc-${name}`
  })
  win.on('closed', () => {
    sessions.delete(id)
    session.close()
  })
  await win.loadFile(path.join(__dirname, 'renderer', 'index.html'))
}

app.whenReady().then(async () => {
  backend = await startBackend(piazza)
  for (const name of WEBXDC_APPS) confineWebxdcPartition(name)
  ipcMain.handle('piazza:call', async (event, method, args) => {
    const session = sessions.get(event.sender.id)
    if (!session) throw new Error('no session for this window')
    const result = await session.call(method, args)
    if (method !== 'openWebxdc') return result
    const src = pathToFileURL(path.join(WEBXDC_DIR, result.app, 'index.html')).href
    return { ...result, tag: 'webview', src, partition: `webxdc-${result.app}` }
  })
  // The webxdc frames (webxdc-preload.js).
  // A webxdc frame's preload starts (a new <webview>, or a reload): connect it to its window's
  // session.
  ipcMain.on('webxdc:self', (event) => {
    const guest = event.sender
    const host = guest.hostWebContents
    const session = host ? sessions.get(host.id) : undefined
    const name = webxdcAppOf(guest.getURL())
    if (!session || !name) {
      event.returnValue = { error: 'this page is not a webxdc frame of a room' }
      return
    }
    const guestId = guest.id
    const previous = frames.get(guestId)
    if (previous) session.detachWebxdc(previous)
    try {
      const frame = session.attachWebxdc(name, (name, payload) => {
        if (!guest.isDestroyed()) guest.send(`webxdc:${name}`, payload)
      })
      frames.set(guestId, frame)
      event.returnValue = frame.self()
    } catch (err) {
      frames.delete(guestId)
      event.returnValue = { error: err instanceof Error ? err.message : String(err) }
    }
    if (!previous) {
      guest.once('destroyed', () => {
        const frame = frames.get(guestId)
        frames.delete(guestId)
        if (frame) session.detachWebxdc(frame)
      })
    }
  })
  ipcMain.on('webxdc:call', (event, op, data) => {
    const frame = frames.get(event.sender.id)
    if (!frame) return
    try {
      frame.call(op, data)
    } catch (err) {
      event.sender.send('webxdc:error', { message: err instanceof Error ? err.message : String(err) })
    }
  })
  await createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', async () => {
  for (const session of sessions.values()) await session.close()
  if (backend) await backend.close()
  app.quit()
})
