'use strict'
// Web mode: the same renderer, served over HTTP on 127.0.0.1, with `window.piazza` bridged
// over a WebSocket (renderer/web-bridge.js) to the same RoomSession logic the Electron main
// process uses. One browser tab = one person, as one Electron window is.
//
//   npm run web            # prints the URL to open (PORT=8080 to choose the port)
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { WebSocketServer } = require('ws')
const piazza = require('piazza-rtc')
const { RoomSession } = require('./lib/session')
const { startBackend } = require('./lib/backend')

const RENDERER = path.join(__dirname, 'renderer')
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

/**
 * Starts web mode; resolves with its URL and a `close()`.
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options]
 */
async function startWeb ({ port = 0, env = process.env } = {}) {
  const backend = await startBackend(piazza, env)
  const server = http.createServer((req, res) => {
    const url = new URL(req.url || '/', 'http://localhost')
    const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1)
    const file = path.join(RENDERER, path.normalize(name))
    if (!file.startsWith(RENDERER + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' })
    fs.createReadStream(file).pipe(res)
  })
  const bridges = new WebSocketServer({ server, path: '/bridge', maxPayload: 64 * 1024 })
  const sessions = new Set()
  bridges.on('connection', (socket) => {
    const session = new RoomSession({
      piazza,
      endpoint: backend.url,
      admin: backend.admin,
      send: (event, payload) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, payload }))
      }
    })
    sessions.add(session)
    socket.on('message', async (data) => {
      let request
      try {
        request = JSON.parse(String(data))
      } catch {
        return socket.close(1003, 'not JSON')
      }
      try {
        const result = await session.call(request.method, request.args)
        socket.send(JSON.stringify({ id: request.id, result: result === undefined ? null : result }))
      } catch (err) {
        socket.send(JSON.stringify({ id: request.id, error: err instanceof Error ? err.message : String(err) }))
      }
    })
    socket.on('close', () => {
      sessions.delete(session)
      session.close()
    })
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`
  return {
    url,
    close: async () => {
      for (const session of sessions) await session.close()
      for (const client of bridges.clients) client.terminate()
      await new Promise((resolve) => bridges.close(() => resolve(undefined)))
      await new Promise((resolve) => server.close(() => resolve(undefined)))
      await backend.close()
    }
  }
}

if (require.main === module) {
  startWeb({ port: Number(process.env.PORT || 0) }).then(({ url, close }) => {
    console.log(`Piazza rooms (web mode): open ${url} in two browser tabs`)
    const stop = () => close().then(() => process.exit(0))
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}

module.exports = { startWeb }
