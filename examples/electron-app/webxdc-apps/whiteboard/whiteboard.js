// A shared whiteboard written only against webxdc's realtime API (window.webxdc: selfAddr,
// selfName, joinRealtimeChannel). Each drag is a stroke; its segments go to the peers as they
// are drawn, as JSON in a Uint8Array: { from, stroke, color, seg: [x0, y0, x1, y1] } with
// coordinates in 0..1 (the peers' canvases may differ in size). Nothing is stored: someone who
// opens the board later sees only what is drawn from then on (webxdc realtime is ephemeral).
;(() => {
  const webxdc = window.webxdc
  const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('board'))
  const status = /** @type {HTMLElement} */ (document.getElementById('status'))
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'))
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()

  /** A color of one's own, from the address. @param {string} addr */
  const colorOf = (addr) => {
    let h = 0
    for (const c of addr) h = (h * 31 + c.charCodeAt(0)) >>> 0
    return `hsl(${h % 360}, 70%, 42%)`
  }
  const myColor = colorOf(webxdc.selfAddr)

  let strokes = 0
  /** Strokes seen from each peer: `from` -> Set of stroke numbers. @type {Map<string, Set<number>>} */
  const peers = new Map()

  function showStatus () {
    const seen = [...peers].map(([from, s]) => `${from}: ${s.size}`).join(', ')
    status.textContent = `${webxdc.selfName} draws in this color · ${strokes} drawn here` + (seen ? ` · from others: ${seen}` : '')
    status.style.color = myColor
    document.body.dataset.strokes = String(strokes)
    document.body.dataset.peers = JSON.stringify(Object.fromEntries([...peers].map(([f, s]) => [f, s.size])))
  }

  /** @param {number[]} seg @param {string} color */
  function draw (seg, color) {
    const [x0, y0, x1, y1] = seg
    ctx.strokeStyle = color
    ctx.lineWidth = 4
    ctx.lineCap = 'round'
    ctx.beginPath()
    ctx.moveTo(x0 * canvas.width, y0 * canvas.height)
    ctx.lineTo(x1 * canvas.width, y1 * canvas.height)
    ctx.stroke()
  }

  if (webxdc.joinRealtimeChannel === undefined) {
    status.textContent = 'This messenger has no realtime channels: the whiteboard cannot work here.'
    return
  }
  const realtime = webxdc.joinRealtimeChannel()
  realtime.setListener((data) => {
    let msg
    try {
      msg = JSON.parse(decoder.decode(data))
    } catch {
      return // not ours
    }
    if (!msg || typeof msg.from !== 'string' || !Array.isArray(msg.seg) || msg.seg.length !== 4) return
    draw(msg.seg.map(Number), typeof msg.color === 'string' ? msg.color : '#000')
    let set = peers.get(msg.from)
    if (!set) peers.set(msg.from, (set = new Set()))
    set.add(Number(msg.stroke))
    showStatus()
  })
  addEventListener('pagehide', () => realtime.leave())

  /** @type {{ x: number, y: number } | null} */
  let last = null
  /** @param {PointerEvent} e */
  const point = (e) => {
    const r = canvas.getBoundingClientRect()
    return { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height }
  }
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId)
    last = point(e)
    strokes += 1
    showStatus()
  })
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return
    const p = point(e)
    const seg = [last.x, last.y, p.x, p.y].map((v) => Math.round(v * 10000) / 10000)
    last = p
    draw(seg, myColor)
    realtime.send(encoder.encode(JSON.stringify({ from: webxdc.selfAddr, stroke: strokes, color: myColor, seg })))
  })
  const end = () => { last = null }
  canvas.addEventListener('pointerup', end)
  canvas.addEventListener('pointercancel', end)
  showStatus()
})()
