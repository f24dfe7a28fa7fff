// Who the client last knew to be in each channel with presence (memory.rs `PresenceViews`), so
// the fresh SNAPSHOT after a reconnect that could not resume carries the delta in `interval`:
// who joined and who left while the client was away, and whose states changed.

type States = Record<string, string>
type Event = Record<string, any>
interface View { users: Map<string, States>, restoring: boolean }

const same = (a: States, b: States): boolean => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
const list = (users: string[]): { users: string[], userCount: number } => ({ users, userCount: users.length })

export class PresenceViews {
  private views = new Map<string, View>()

  private view (type: string, channel: string): View {
    const key = `${type}\n${channel}`
    let view = this.views.get(key)
    if (!view) this.views.set(key, (view = { users: new Map(), restoring: false }))
    return view
  }

  /** Marks channels whose next SNAPSHOT comes from a restore. */
  markRestoring (channels: Array<[string, string]>): void {
    for (const [type, channel] of channels) this.view(type, channel).restoring = true
  }

  forget (type: string, channel: string): void { this.views.delete(`${type}\n${channel}`) }
  clear (): void { this.views.clear() }

  /** Follows a presence event; a SNAPSHOT after a restore gets `interval` = the delta (in place). */
  observe (e: Event): void {
    const view = this.view(e.channelType, e.channelName)
    switch (e.eventType) {
      case 'SNAPSHOT': {
        const users = new Map<string, States>((e.snapshot ?? []).map((u: Event) => [u.userId, u.states ?? {}]))
        // A crowded channel's SNAPSHOT lists only the first users: no delta can be computed.
        const partial = (e.interval?.totalOccupancy ?? 0) > users.size
        if (view.restoring && !partial) {
          const before = view.users
          const sorted = (xs: string[]): string[] => xs.sort()
          e.interval = {
            join: list(sorted([...users.keys()].filter((u) => !before.has(u)))),
            leave: list(sorted([...before.keys()].filter((u) => !users.has(u)))),
            timeout: list([]),
            userStateList: sorted([...users.keys()]).filter((u) => before.has(u) && !same(before.get(u) as States, users.get(u) as States))
              .map((u) => ({ userId: u, states: users.get(u), statesCount: Object.keys(users.get(u) as States).length })),
            totalOccupancy: users.size
          }
        }
        view.users = users
        view.restoring = false
        return
      }
      case 'REMOTE_JOIN': case 'REMOTE_STATE_CHANGED':
        view.users.set(e.publisher, e.stateChanged ?? {})
        return
      case 'REMOTE_LEAVE': case 'REMOTE_TIMEOUT':
        view.users.delete(e.publisher)
        return
      case 'INTERVAL': {
        const i = e.interval
        if (!i) return
        for (const u of i.join?.users ?? []) if (!view.users.has(u)) view.users.set(u, {})
        for (const u of [...(i.leave?.users ?? []), ...(i.timeout?.users ?? [])]) view.users.delete(u)
        for (const u of i.userStateList ?? []) view.users.set(u.userId, u.states ?? {})
      }
    }
  }
}
