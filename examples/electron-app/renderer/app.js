'use strict'
// The renderer: plain DOM code over `window.piazza` (see piazza.d.ts). The same file runs in
// Electron (bridge: preload.js over IPC) and in a browser (bridge: web-bridge.js over a
// WebSocket).
;(() => {
  const piazza = window.piazza
  /** @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
  const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id))

  /** @type {{ userId: string, room: string, host: boolean } | null} */
  let me = null
  /** @type {string[]} */
  let members = []
  const typing = new Set()
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typingTimer
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let bannerTimer

  /** Electron prefixes errors that cross IPC; the person only needs the message. */
  const message = (/** @type {unknown} */ err) =>
    String(err instanceof Error ? err.message : err).replace(/^Error invoking remote method '[^']+': (Error: )?/, '')

  /** @param {'login' | 'room' | 'exit'} view */
  function show (view) {
    $('login-view').hidden = view !== 'login'
    $('room-view').hidden = view !== 'room'
    $('exit-view').hidden = view !== 'exit'
  }

  function renderMembers () {
    const list = $('members')
    list.replaceChildren()
    const everyone = me ? [me.userId, ...members.filter((m) => m !== me?.userId)] : members
    for (const user of everyone) {
      const li = document.createElement('li')
      li.textContent = user
      li.dataset.user = user
      if (me && user === me.userId) li.className = 'me'
      list.append(li)
    }
    const buttons = $('remove-buttons')
    buttons.replaceChildren()
    for (const user of members) {
      const button = document.createElement('button')
      button.textContent = `Remove ${user}`
      button.dataset.remove = user
      button.addEventListener('click', () => act(() => piazza.removeMember(user)))
      buttons.append(button)
    }
  }

  function renderTyping () {
    const names = [...typing].filter((u) => members.includes(u)).sort()
    $('typing').textContent = names.length === 0
      ? ''
      : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`
  }

  /** Opens webxdc app `app` in its isolated frame (its `window.webxdc` is the only bridge). @param {string} app */
  async function openWebxdc (app) {
    const embed = await piazza.openWebxdc(app)
    const frame = document.createElement(embed.tag)
    frame.id = `webxdc-${app}`
    if (embed.tag === 'iframe') {
      frame.setAttribute('sandbox', 'allow-scripts') // no same origin: no cookies, no parent, no window.piazza
    } else if (embed.partition) {
      frame.setAttribute('partition', embed.partition) // Electron: main.js adds webxdc-preload.js
    }
    frame.setAttribute('src', embed.src)
    $('webxdc-slot').replaceChildren(frame)
    $('open-whiteboard').hidden = true
  }

  /** Closes the webxdc frames (leaving the room ends them). */
  function closeWebxdc () {
    $('webxdc-slot').replaceChildren()
    $('open-whiteboard').hidden = false
  }

  /** @param {string} text */
  function activity (text) {
    const li = document.createElement('li')
    li.textContent = text
    $('activity').prepend(li)
  }

  /** @param {{ from: string, text: string, mine: boolean }} line */
  function chatLine ({ from, text, mine }) {
    const div = document.createElement('div')
    div.className = mine ? 'line mine' : 'line'
    const who = document.createElement('span')
    who.className = 'from'
    who.textContent = from
    const what = document.createElement('span')
    what.className = 'text'
    what.textContent = text
    div.append(who, what)
    $('chat').append(div)
    $('chat').scrollTop = $('chat').scrollHeight
  }

  /** @param {string} text @param {string} state */
  function banner (text, state) {
    const el = $('banner')
    el.textContent = text
    el.className = `banner ${state}`
    el.hidden = false
    clearTimeout(bannerTimer)
    if (state === 'recovered') bannerTimer = setTimeout(() => { el.hidden = true }, 3000)
  }

  /** Runs a room action; a refusal is shown under the chat. @param {() => Promise<unknown>} fn */
  async function act (fn) {
    $('room-error').textContent = ''
    try {
      await fn()
    } catch (err) {
      $('room-error').textContent = message(err)
    }
  }

  piazza.onEvent((event, payload) => {
    switch (event) {
      case 'memberJoined':
        members = payload.members
        activity(`${payload.userId} entered`)
        renderMembers()
        break
      case 'memberLeft':
        members = payload.members
        typing.delete(payload.userId)
        activity(payload.text)
        renderMembers()
        renderTyping()
        break
      case 'chat':
        chatLine(payload)
        break
      case 'typing':
        if (payload.typing) typing.add(payload.userId)
        else typing.delete(payload.userId)
        renderTyping()
        break
      case 'exit':
        me = null
        members = []
        typing.clear()
        $('exit-message').textContent = payload.text
        $('exit-message').dataset.reason = String(payload.reason)
        closeWebxdc()
        show('exit')
        break
      case 'connection':
        banner(payload.text, payload.state)
        break
    }
  })

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault()
    $('login-error').textContent = ''
    const button = /** @type {HTMLButtonElement} */ ($('enter'))
    button.disabled = true
    try {
      const entered = await piazza.login({ appId: input('app-id').value, userId: input('user-id').value, room: input('room').value })
      me = { userId: entered.userId, room: entered.room, host: entered.host }
      members = entered.members
      $('room-name').textContent = entered.room
      $('me').textContent = `as ${entered.userId}`
      $('host-badge').hidden = !entered.host
      $('host-panel').hidden = !entered.host
      $('chat').replaceChildren()
      $('activity').replaceChildren()
      closeWebxdc()
      renderMembers()
      renderTyping()
      show('room')
      input('chat-input').focus()
    } catch (err) {
      $('login-error').textContent = message(err)
    } finally {
      button.disabled = false
    }
  })

  $('chat-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const text = input('chat-input').value
    if (!text.trim()) return
    input('chat-input').value = ''
    clearTimeout(typingTimer)
    act(() => piazza.sendChat(text))
  })

  // Typing: on while keys are pressed, off two seconds after the last one (or on send).
  input('chat-input').addEventListener('input', () => {
    clearTimeout(typingTimer)
    if (input('chat-input').value === '') {
      act(() => piazza.setTyping(false))
      return
    }
    act(() => piazza.setTyping(true))
    typingTimer = setTimeout(() => act(() => piazza.setTyping(false)), 2000)
  })

  $('leave').addEventListener('click', () => act(() => piazza.leave()))
  $('dismiss').addEventListener('click', () => act(() => piazza.dismissRoom()))
  $('open-whiteboard').addEventListener('click', () => act(() => openWebxdc('whiteboard')))
  $('back').addEventListener('click', () => show('login'))
  show('login')
})()
