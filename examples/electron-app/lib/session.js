'use strict'
// The sample's main-process logic: one person's Piazza clients, driven by the renderer's calls
// and reporting back through `send(event, payload)`. Nothing here knows about Electron or
// Node: the same module serves Electron's IPC (main.js), web mode's page (renderer/web-bridge.js,
// over piazza-rtc/web; web.js serves this file to it as an ES module), and Node in the tests.
//
// A person in a room holds two clients, as a TRTC + RTM app would:
// - a TRTCCloud for the room itself: who is in it, enter/exit with reasons, kick and dismiss;
// - an RTM client for the room's chat channel (`chat-<room>`), whose presence state carries
//   the typing indicator.
// The room's webxdc apps (webxdc-apps/, e.g. the whiteboard) run in their own frames; their
// `window.webxdc` is `createWebxdc(rtm, 'webxdc-<app>-<room>')` on the same RTM client
// (attachWebxdc, lib/webxdc-frame.js).

const { createWebxdc } = require('piazza-rtc/webxdc')
const { WebxdcFrame, WEBXDC_APPS } = require('./webxdc-frame')

/** What each onExitRoom reason means, for the person it happened to. */
const EXIT_TEXT = {
  0: 'You left the room.',
  1: 'You were removed from the room by the host.',
  2: 'The host closed the room.'
}

/** What each onRemoteUserLeaveRoom reason means, said about the other person. */
const LEAVE_TEXT = {
  0: 'left',
  1: 'lost connection',
  2: 'was removed',
  3: 'stopped presenting'
}

const CONNECTION_TEXT = {
  lost: 'Connection lost.',
  reconnecting: 'Reconnecting…',
  recovered: 'Connected again.'
}

const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,48}$/

class SessionError extends Error {}

/** The room's chat channel. @param {{ room: string }} me */
const chatChannel = (me) => `chat-${me.room}`
/** The realtime scope of a webxdc app in the room. @param {{ room: string }} me @param {string} app */
const webxdcScope = (me, app) => `webxdc-${app}-${me.room}`

class RoomSession {
  /**
   * @param {object} options
   * @param {typeof import('piazza-rtc')} options.piazza the addon (in web mode's page: piazza-rtc/web, the same API)
   * @param {string} options.endpoint the server URL
   * @param {import('./backend').Admin} options.admin
   * @param {(event: string, payload: unknown) => void} options.send
   */
  constructor ({ piazza, endpoint, admin, send }) {
    this.piazza = piazza
    this.endpoint = endpoint
    this.admin = admin
    this.send = send
    this.trtc = null
    this.rtm = null
    /** @type {{ appId: string, userId: string, room: string, host: boolean } | null} */
    this.me = null
    /** @type {Set<string>} */
    this.members = new Set()
    /** The typing state last set (presence state `typing`). */
    this.typing = false
    /** The connected webxdc frames, by app. @type {Map<string, WebxdcFrame>} */
    this.frames = new Map()
  }

  /** Runs one call from the renderer; only the methods below can be called. */
  async call (method, args) {
    switch (method) {
      case 'login': return this.login(args || {})
      case 'leave': return this.leave()
      case 'sendChat': return this.sendChat(args && args.text)
      case 'setTyping': return this.setTyping(Boolean(args && args.typing))
      case 'removeMember': return this.removeMember(args && args.userId)
      case 'dismissRoom': return this.dismissRoom()
      case 'openWebxdc': return this.openWebxdc(args && args.app)
      default: throw new SessionError(`unknown call ${JSON.stringify(method)}`)
    }
  }

  /** Enters `room` as `userId` of app `appId` (a positive integer, as TRTC wants). */
  async login ({ appId, userId, room }) {
    if (this.me) throw new SessionError('already in a room; leave first')
    appId = String(appId || '').trim()
    userId = String(userId || '').trim()
    room = String(room || '').trim()
    if (!/^[1-9][0-9]{0,9}$/.test(appId)) throw new SessionError('The app id must be a positive number, like 1400000001.')
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(userId)) throw new SessionError('The user id takes 1–32 letters, digits, _ or -.')
    if (!ROOM_PATTERN.test(room)) throw new SessionError('The room name takes 1–48 letters, digits, _ or -.')
    const { TRTCCloud, TRTCAppScene, RTM } = this.piazza

    const trtc = new TRTCCloud({ endpoint: this.endpoint })
    this.trtc = trtc
    const entered = new Promise((resolve) => {
      const onEnter = (result) => { trtc.off('onEnterRoom', onEnter); resolve(result) }
      trtc.on('onEnterRoom', onEnter)
    })
    let lastError = ''
    trtc.on('onError', (code, message) => { lastError = message })
    trtc.on('onRemoteUserEnterRoom', (user) => {
      this.members.add(user)
      this.send('memberJoined', { userId: user, members: this.memberList() })
    })
    trtc.on('onRemoteUserLeaveRoom', (user, reason) => {
      this.members.delete(user)
      const text = `${user} ${LEAVE_TEXT[reason] || 'left'}`
      this.send('memberLeft', { userId: user, reason, text, members: this.memberList() })
      this.send('typing', { userId: user, typing: false })
    })
    trtc.on('onExitRoom', (reason) => this.exited(reason))
    trtc.on('onConnectionLost', () => this.send('connection', { state: 'lost', text: CONNECTION_TEXT.lost }))
    trtc.on('onTryToReconnect', () => this.send('connection', { state: 'reconnecting', text: CONNECTION_TEXT.reconnecting }))
    trtc.on('onConnectionRecovery', () => this.send('connection', { state: 'recovered', text: CONNECTION_TEXT.recovered }))
    trtc.enterRoom({ sdkAppId: Number(appId), userId, strRoomId: room }, TRTCAppScene.TRTCAppSceneVideoCall)
    const result = await entered
    if (result < 0) {
      this.trtc = null
      trtc.destroy()
      throw new SessionError(`Could not enter the room: ${lastError || `error ${result}`}`)
    }
    // The members already there were announced with the entry (synchronously after it).
    await new Promise((resolve) => setTimeout(resolve, 0))
    const host = this.members.size === 0
    this.me = { appId, userId, room, host }

    const rtm = new RTM(appId, userId, { endpoint: this.endpoint })
    this.rtm = rtm
    rtm.addEventListener('message', (event) => {
      if (typeof event.message !== 'string') return
      this.send('chat', { from: event.publisher, text: event.message, timestamp: event.timestamp, mine: event.publisher === userId })
    })
    rtm.addEventListener('presence', (event) => this.onPresence(event))
    await rtm.login()
    await rtm.subscribe(chatChannel(this.me), { withMessage: true, withPresence: true })
    return { userId, room, host, members: this.memberList() }
  }

  async sendChat (text) {
    const { me, rtm } = this.need()
    if (typeof text !== 'string' || text.trim() === '') throw new SessionError('Nothing to send.')
    if (new TextEncoder().encode(text).length > 4000) throw new SessionError('That message is too long (4000 bytes at most).')
    await rtm.publish(chatChannel(me), text.trim(), { customType: 'chat' })
    await this.setTyping(false)
    return { sent: true, from: me.userId }
  }

  async setTyping (typing) {
    const { me, rtm } = this.need()
    if (this.typing === typing) return { typing }
    this.typing = typing
    await rtm.presence.setState(chatChannel(me), 'MESSAGE', { typing: typing ? '1' : '0' })
    return { typing }
  }

  async removeMember (userId) {
    const me = this.needHost()
    if (typeof userId !== 'string' || !this.members.has(userId)) throw new SessionError(`${userId} is not in the room.`)
    return this.admin.removeUser(me.appId, me.room, [userId])
  }

  async dismissRoom () {
    const me = this.needHost()
    return this.admin.dismissRoom(me.appId, me.room)
  }

  /**
   * Checks that webxdc app `app` may open in the room; the bridge (main.js, web.js) then loads
   * its frame and connects it with attachWebxdc.
   */
  async openWebxdc (app) {
    const { me } = this.need()
    if (typeof app !== 'string' || !WEBXDC_APPS.has(app)) throw new SessionError(`There is no webxdc app ${JSON.stringify(app)}.`)
    return { app, scope: webxdcScope(me, app) }
  }

  /**
   * Connects the frame of webxdc app `app` (replacing a previous frame of it): its
   * `window.webxdc` calls go to the returned WebxdcFrame, and the peers' data and refused joins
   * come back through `send`.
   * @param {string} app
   * @param {(event: 'data' | 'error', payload: Uint8Array | { message: string }) => void} send
   */
  attachWebxdc (app, send) {
    const { me, rtm } = this.need()
    if (!WEBXDC_APPS.has(app)) throw new SessionError(`There is no webxdc app ${JSON.stringify(app)}.`)
    const previous = this.frames.get(app)
    if (previous) previous.close()
    const webxdc = createWebxdc(rtm, webxdcScope(me, app), {
      onError: (err) => frame.send('error', { message: `The ${app} could not join its realtime channel: ${err.message}` })
    })
    const frame = new WebxdcFrame(webxdc, send)
    this.frames.set(app, frame)
    return frame
  }

  /** A webxdc frame went away. @param {WebxdcFrame} frame */
  detachWebxdc (frame) {
    frame.close()
    for (const [app, f] of this.frames) if (f === frame) this.frames.delete(app)
  }

  /** Leaves the room (onExitRoom(0) follows). */
  async leave () {
    this.need().trtc.exitRoom()
    return { leaving: true }
  }

  /** Ends everything (the window closed, or the bridge went away). */
  async close () {
    const { trtc, rtm } = this
    this.trtc = null
    this.rtm = null
    this.me = null
    for (const frame of this.frames.values()) frame.close()
    this.frames.clear()
    if (rtm) await rtm.logout().catch(() => {})
    if (trtc) trtc.destroy()
  }

  // ---- internals

  memberList () {
    return [...this.members].sort()
  }

  need () {
    const { me, rtm, trtc } = this
    if (!me || !rtm || !trtc) throw new SessionError('Not in a room.')
    return { me, rtm, trtc }
  }

  needHost () {
    const { me } = this.need()
    if (!me.host) throw new SessionError('Only the host can do that.')
    return me
  }

  onPresence (event) {
    const report = (userId, states) => {
      if (userId && userId !== this.me?.userId && states && 'typing' in states) {
        this.send('typing', { userId, typing: states.typing === '1' })
      }
    }
    switch (event.eventType) {
      case 'SNAPSHOT':
        for (const user of event.snapshot || []) report(user.userId, user.states)
        break
      case 'REMOTE_STATE_CHANGED':
        report(event.publisher, event.stateChanged)
        break
      case 'REMOTE_LEAVE':
      case 'REMOTE_TIMEOUT':
        if (event.publisher) this.send('typing', { userId: event.publisher, typing: false })
        break
      case 'INTERVAL':
        for (const user of event.interval?.userStateList || []) report(user.userId, user.states)
        break
    }
  }

  exited (reason) {
    this.send('exit', { reason, text: EXIT_TEXT[reason] || 'You are no longer in the room.' })
    this.members.clear()
    this.close()
  }
}

module.exports = { RoomSession, SessionError, EXIT_TEXT, LEAVE_TEXT, CONNECTION_TEXT }
