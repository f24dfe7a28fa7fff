'use strict'
// lib/keepalive.js: keeping Node alive, and calling user listeners.
//
// Native callbacks are weak (they never keep the event loop running), so an open server or a
// logged-in client holds a keep-alive handle; with none held, a process exits by itself. The
// handle is a 1 s interval that also drains every live client, as a safety net under the
// engine's wake-ups. Listener calls live here too because the count of listener exceptions is
// shared by RTM and TRTCCloud.

let keepAliveCount = 0
let keepAliveTimer = null
/** Clients that hold the process (logged in or waiting for answers), as weak references. */
const liveClients = new Set()
function holdProcess () {
  // The keep-alive timer also drains every live client once a second: a safety net under the
  // wake-ups from the engine, so that no event can wait for long if one is ever missed.
  if (keepAliveCount++ === 0) {
    keepAliveTimer = setInterval(() => {
      for (const ref of liveClients) {
        const rtm = ref.deref()
        if (rtm === undefined) liveClients.delete(ref)
        else rtm._drain()
      }
    }, 1000)
  }
}
function releaseProcess () {
  if (--keepAliveCount === 0) {
    clearInterval(keepAliveTimer)
    keepAliveTimer = null
  }
}

/** Releases a Hold when its owner is collected: holdFinalizer.register(owner, hold). */
const holdFinalizer = new FinalizationRegistry((hold) => hold.release())

/** A keep-alive hold that is released at most once (and when its owner is collected). */
class Hold {
  constructor () { this.held = false }
  acquire () { if (!this.held) { this.held = true; holdProcess() } }
  release () { if (this.held) { this.held = false; releaseProcess() } }
}

let listenerErrors = 0
/** Calls a listener; an exception is reported with process.emitWarning and counted. */
function safeCall (fn, arg, what) {
  try {
    fn(arg)
  } catch (err) {
    listenerErrors++
    const warning = new Error(`a ${what} listener threw: ${err && err.stack ? err.stack : err}`)
    warning.name = 'PiazzaListenerError'
    process.emitWarning(warning)
  }
}

/** Exceptions thrown by listeners so far (RTM.listenerErrorCount). */
function listenerErrorCount () { return listenerErrors }

module.exports = { liveClients, holdFinalizer, Hold, safeCall, listenerErrorCount }
