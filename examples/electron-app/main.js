'use strict'
// Electron's main process: the window, the Piazza clients (one RoomSession per window), and
// the IPC between them. The renderer never touches Node or the addon: it calls the small
// `window.piazza` API that preload.js exposes.
const path = require('node:path')
const { app, BrowserWindow, ipcMain } = require('electron')
const piazza = require('piazza-rtc')
const { RoomSession } = require('./lib/session')
const { startBackend } = require('./lib/backend')

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
      sandbox: true
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
  win.on('closed', () => {
    sessions.delete(id)
    session.close()
  })
  await win.loadFile(path.join(__dirname, 'renderer', 'index.html'))
}

app.whenReady().then(async () => {
  backend = await startBackend(piazza)
  ipcMain.handle('piazza:call', async (event, method, args) => {
    const session = sessions.get(event.sender.id)
    if (!session) throw new Error('no session for this window')
    return session.call(method, args)
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
