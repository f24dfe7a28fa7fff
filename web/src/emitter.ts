// A small EventEmitter for the browser with Node's method names (on, off, once, addListener,
// removeListener, removeAllListeners, listenerCount, listeners, emit), so code written for the
// Node package's RTM and TRTCCloud (EventEmitters) runs unchanged. A listener that throws is
// reported (reportError) and the others still run; an 'error' nobody listens to is dropped.

import { reportListenerError } from './errors'

type Listener = (...args: any[]) => void
interface Entry { fn: Listener, once: boolean }

export class Emitter {
  private _events = new Map<string, Entry[]>()

  private _add (event: string, fn: Listener, once: boolean, prepend = false): this {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function')
    const list = this._events.get(event) ?? []
    const entry = { fn, once }
    this._events.set(event, prepend ? [entry, ...list] : [...list, entry])
    return this
  }

  on (event: string, fn: Listener): this { return this._add(event, fn, false) }
  addListener (event: string, fn: Listener): this { return this._add(event, fn, false) }
  prependListener (event: string, fn: Listener): this { return this._add(event, fn, false, true) }
  once (event: string, fn: Listener): this { return this._add(event, fn, true) }

  off (event: string, fn: Listener): this {
    const list = this._events.get(event)
    if (!list) return this
    const i = list.map((e) => e.fn).lastIndexOf(fn)
    if (i >= 0) this._events.set(event, list.filter((_, j) => j !== i))
    return this
  }

  removeListener (event: string, fn: Listener): this { return this.off(event, fn) }

  removeAllListeners (event?: string): this {
    if (event === undefined) this._events.clear()
    else this._events.delete(event)
    return this
  }

  listenerCount (event: string): number { return this._events.get(event)?.length ?? 0 }
  listeners (event: string): Listener[] { return (this._events.get(event) ?? []).map((e) => e.fn) }
  eventNames (): string[] { return [...this._events.keys()].filter((e) => this.listenerCount(e) > 0) }

  /** Calls the listeners registered now; true when there were any. */
  emit (event: string, ...args: unknown[]): boolean {
    const list = this._events.get(event)
    if (!list || list.length === 0) return false
    if (list.some((e) => e.once)) this._events.set(event, list.filter((e) => !e.once))
    for (const { fn } of list) {
      try {
        fn.apply(this, args)
      } catch (err) {
        reportListenerError(err, event)
      }
    }
    return true
  }
}
