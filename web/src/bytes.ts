// Bytes on the wire (docs/PROTOCOL.md#transport): UTF-8, base64 (history payloads), and binary
// frames — u32 big-endian header length, the JSON header, then the raw payload.

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })

export const utf8 = (text: string): Uint8Array => encoder.encode(text)
/** Decodes UTF-8; throws on bytes that are not UTF-8. */
export const fromUtf8 = (bytes: Uint8Array): string => strictDecoder.decode(bytes)

export function fromBase64 (text: string): Uint8Array {
  const bin = atob(text)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** A payload argument: a string, or bytes (Uint8Array, ArrayBuffer, another view) as a Uint8Array. */
export function toPayload (message: unknown): string | Uint8Array | null {
  if (typeof message === 'string' || message instanceof Uint8Array) return message
  if (message instanceof ArrayBuffer) return new Uint8Array(message)
  if (ArrayBuffer.isView(message)) return new Uint8Array(message.buffer, message.byteOffset, message.byteLength)
  return null
}

export const bytesOf = (payload: string | Uint8Array): Uint8Array => typeof payload === 'string' ? utf8(payload) : payload

/** A binary frame: header length, JSON header, payload. */
export function encodeBinary (header: object, payload: Uint8Array): Uint8Array {
  const head = utf8(JSON.stringify(header))
  const out = new Uint8Array(4 + head.length + payload.length)
  new DataView(out.buffer).setUint32(0, head.length)
  out.set(head, 4)
  out.set(payload, 4 + head.length)
  return out
}

/** A binary frame's JSON header and payload (a view of `data`), or null when it is broken. */
export function decodeBinary (data: ArrayBuffer): { header: Record<string, unknown>, payload: Uint8Array } | null {
  if (data.byteLength < 4) return null
  const len = new DataView(data).getUint32(0)
  if (4 + len > data.byteLength) return null
  try {
    const header = JSON.parse(fromUtf8(new Uint8Array(data, 4, len)))
    return { header, payload: new Uint8Array(data, 4 + len) }
  } catch {
    return null
  }
}
