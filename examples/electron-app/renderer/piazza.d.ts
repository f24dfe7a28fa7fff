// The `window.piazza` API the renderer sees: from preload.js in Electron, from web-bridge.js in
// web mode. Both implement exactly this.

interface PiazzaLogin {
  appId: string
  userId: string
  room: string
}

interface PiazzaEntered {
  userId: string
  room: string
  /** Whether this person opened the room (the host may remove members and close it). */
  host: boolean
  members: string[]
}

/** Where a webxdc app's frame loads: an <iframe sandbox> (web mode) or a <webview> (Electron). */
interface PiazzaWebxdcEmbed {
  app: string
  /** The app's realtime scope (`webxdc-<app>-<room>`). */
  scope: string
  tag: 'iframe' | 'webview'
  src: string
  /** The <webview>'s partition (Electron). */
  partition?: string
}

/** Events from the main process, by name. */
interface PiazzaEvents {
  memberJoined: { userId: string, members: string[] }
  /** reason: 0 left, 1 lost connection, 2 removed, 3 stopped presenting; text says it in words. */
  memberLeft: { userId: string, reason: 0 | 1 | 2 | 3, text: string, members: string[] }
  chat: { from: string, text: string, timestamp: number, mine: boolean }
  typing: { userId: string, typing: boolean }
  /** reason: 0 you left, 1 removed by the host, 2 the host closed the room. */
  exit: { reason: 0 | 1 | 2, text: string }
  connection: { state: 'lost' | 'reconnecting' | 'recovered', text: string }
}

/** The arguments of an event listener: the event's name, then its payload. */
type PiazzaEventArgs = { [E in keyof PiazzaEvents]: [event: E, payload: PiazzaEvents[E]] }[keyof PiazzaEvents]

interface PiazzaBridge {
  login(login: PiazzaLogin): Promise<PiazzaEntered>
  leave(): Promise<unknown>
  sendChat(text: string): Promise<unknown>
  setTyping(typing: boolean): Promise<unknown>
  removeMember(userId: string): Promise<unknown>
  dismissRoom(): Promise<unknown>
  /** Opens webxdc app `app` (a folder of webxdc-apps/) for the room; the renderer embeds it. */
  openWebxdc(app: string): Promise<PiazzaWebxdcEmbed>
  /** Listens to every event; returns a function that stops listening. */
  onEvent(listener: (...args: PiazzaEventArgs) => void): () => void
}

interface Window {
  piazza: PiazzaBridge
}
