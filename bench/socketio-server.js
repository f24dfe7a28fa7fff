'use strict'
// The Socket.IO 4 peer of the benchmark: `sub` joins a room (acknowledged), `pub` emits the
// payload to the room. Started by piazza-bench on a free port; prints one line when listening.
const http = require('node:http')
const { Server } = require('socket.io')
const { version } = require('socket.io/package.json')

const port = Number(process.argv[2])
const httpServer = http.createServer()
const io = new Server(httpServer, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
  // Heartbeats are not what is measured: one every ten minutes.
  pingInterval: 600000,
  pingTimeout: 600000
})
io.on('connection', (socket) => {
  socket.on('sub', (channel, ack) => {
    socket.join(channel)
    if (typeof ack === 'function') ack()
  })
  socket.on('pub', (channel, payload) => {
    io.to(channel).emit('m', payload)
  })
})
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`socket.io ${version} on Node ${process.version}, websocket transport only, perMessageDeflate off`)
})
