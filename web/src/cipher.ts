// End-to-end payload encryption through WebCrypto, interoperable with the engine's
// (crates/engine/src/client/crypto.rs): the key is PBKDF2-HMAC-SHA256 (10,000 rounds) of the
// cipherKey and the 32-byte salt, 16 bytes for AES-128-GCM, 32 for AES-256-GCM; the sealed form
// is 0x01 | 12-byte random nonce | ciphertext with its 16-byte tag (what WebCrypto's AES-GCM
// appends, as RustCrypto's does).


const ROUNDS = 10_000
const VERSION = 1
const NONCE = 12
/** Bytes sealing adds to a payload. */
export const OVERHEAD = 1 + NONCE + 16

export type Mode = 'AES_128_GCM' | 'AES_256_GCM'

export class Cipher {
  private readonly key: Promise<CryptoKey>

  constructor (mode: Mode, cipherKey: string, salt: Uint8Array) {
    const subtle = globalThis.crypto?.subtle
    if (!subtle) throw new Error('WebCrypto (crypto.subtle) is not available: end-to-end encryption needs a secure context (https:// or localhost)')
    this.key = subtle.importKey('raw', new TextEncoder().encode(cipherKey), 'PBKDF2', false, ['deriveKey']).then((base) => subtle.deriveKey(
      { name: 'PBKDF2', salt: salt.slice(), iterations: ROUNDS, hash: 'SHA-256' },
      base,
      { name: 'AES-GCM', length: mode === 'AES_128_GCM' ? 128 : 256 },
      false,
      ['encrypt', 'decrypt']
    ))
  }

  /** Seals a payload. */
  async seal (plain: Uint8Array): Promise<Uint8Array> {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE))
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, await this.key, plain.slice()))
    const out = new Uint8Array(1 + NONCE + sealed.length)
    out[0] = VERSION
    out.set(nonce, 1)
    out.set(sealed, 1 + NONCE)
    return out
  }

  /** Opens a sealed payload; rejects (never returns garbage) with another key or damaged bytes. */
  async open (sealed: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < OVERHEAD || sealed[0] !== VERSION) throw new Error('not an encrypted Piazza payload')
    try {
      const nonce = sealed.slice(1, 1 + NONCE)
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce }, await this.key, sealed.slice(1 + NONCE)))
    } catch {
      throw new Error('wrong cipherKey or salt, or a different encryptionMode')
    }
  }
}
