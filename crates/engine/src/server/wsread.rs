//! Reading a client's WebSocket frames (RFC 6455 §5), keeping no buffer between them.
//!
//! An idle connection is the common case at scale, and a WebSocket library keeps its read
//! buffer (512 bytes at least) and its state (a few hundred bytes in the connection's task) for
//! as long as the connection lasts. This reader reads into the stack of the poll that asks for
//! bytes and keeps on the heap only what a frame not yet whole needs: between frames it holds
//! nothing but the socket. Frames are checked as strictly as the library did, and each frame's
//! header before its payload is waited for: masked, no reserved bits or opcodes, control frames
//! final and at most 125 bytes, fragments in order, the frame and the message it adds to within
//! the limit; then text in UTF-8. The first error ends the reading. The replies the protocol
//! asks for (a pong for a ping, the close echoed) are written to [`Control`] for the writer
//! task.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Bytes read per poll, into the stack.
const READ_CHUNK: usize = 8 * 1024;
/// What replies may wait in [`Control`]: a peer that pings without reading its pongs cannot
/// make it grow without end (the replies past it are dropped; such a peer is closed as a slow
/// consumer or for its silence soon enough).
const CONTROL_CAP: usize = 64 * 1024;

/// The replies to control frames (pongs, the close echoed), for the writer task to send.
#[derive(Default)]
pub(super) struct Control {
    pub bytes: parking_lot::Mutex<Vec<u8>>,
    pub ready: Notify,
}

impl Control {
    fn reply(&self, opcode: u8, payload: &[u8]) {
        let mut bytes = self.bytes.lock();
        if bytes.len() < CONTROL_CAP {
            crate::protocol::codec::ws_frame(opcode, payload, &mut bytes);
        }
        drop(bytes);
        self.ready.notify_one();
    }
}

/// Why a connection's frames cannot be read on.
#[derive(Debug)]
pub(super) enum ReadError {
    /// A frame, or a message of several, over the limit (close 1009).
    TooBig { size: usize, max: usize },
    /// A text message that is not UTF-8 (close 1007).
    Utf8,
    /// A frame the protocol does not allow (close 1002).
    Protocol(&'static str),
    /// The socket failed, or ended within a frame.
    Io(std::io::Error),
}

impl ReadError {
    /// The close code the connection ends with; `None` when the socket itself failed.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ReadError::TooBig { .. } => Some(crate::protocol::close::TOO_BIG),
            ReadError::Utf8 => Some(crate::protocol::close::INVALID_DATA),
            ReadError::Protocol(_) => Some(crate::protocol::close::PROTOCOL_ERROR),
            ReadError::Io(_) => None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooBig { size, max } => write!(f, "message of {size} bytes exceeds maxFrameBytes {max}"),
            ReadError::Utf8 => f.write_str("text frame is not valid UTF-8"),
            ReadError::Protocol(reason) => write!(f, "WebSocket protocol error: {reason}"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A message arriving in fragments: whether it is text, and its data so far.
struct Partial {
    text: bool,
    data: BytesMut,
}

/// A frame's header, parsed.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Bytes of the header itself.
    size: usize,
    /// Bytes of the payload.
    len: usize,
}

/// Parses a client frame's header from the start of `buf`: `Ok(None)` until it is whole.
fn header(buf: &[u8], max: usize) -> Result<Option<Header>, ReadError> {
    let [first, second, ..] = *buf else { return Ok(None) };
    if first & 0x70 != 0 {
        return Err(ReadError::Protocol("reserved bits set without an extension"));
    }
    if second & 0x80 == 0 {
        return Err(ReadError::Protocol("a client's frame must be masked"));
    }
    let (fin, opcode) = (first & 0x80 != 0, first & 0x0F);
    let (len, at) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
            None => return Ok(None),
        },
        len => (u64::from(len), 2),
    };
    if opcode >= 8 {
        if !fin {
            return Err(ReadError::Protocol("a control frame must not be fragmented"));
        }
        if len > 125 {
            return Err(ReadError::Protocol("a control frame must carry at most 125 bytes"));
        }
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > max {
        return Err(ReadError::TooBig { size: len, max });
    }
    let Some(mask) = buf.get(at..at + 4) else { return Ok(None) };
    Ok(Some(Header { fin, opcode, mask: mask.try_into().expect("4 bytes"), size: at + 4, len }))
}

/// Undoes a client's masking, eight bytes at a time.
fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let [a, b, c, d] = mask;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    // The rest starts at a multiple of eight: the mask's phase is 0 again.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// Whether a close code may be sent in a close frame (RFC 6455 §7.4).
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1013 | 3000..=4999)
}

fn text(data: Bytes) -> Result<Message, ReadError> {
    Utf8Bytes::try_from(data).map(Message::Text).map_err(|_| ReadError::Utf8)
}

/// The frames of one connection's read half.
pub(super) struct FrameReader<R> {
    read: R,
    /// Read and not yet taken: a frame not yet whole; empty, with no allocation, between frames.
    buf: BytesMut,
    /// A message arriving in fragments (rare: boxed, 8 bytes when there is none).
    partial: Option<Box<Partial>>,
    max: usize,
    control: std::sync::Arc<Control>,
    /// A close was received: nothing is read after it.
    closed: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `read`, starting with `rest` (what came after the HTTP head); frames and
    /// messages may be `max` bytes long.
    pub fn new(read: R, rest: &[u8], max: usize, control: std::sync::Arc<Control>) -> Self {
        Self { read, buf: BytesMut::from(rest), partial: None, max, control, closed: false }
    }

    /// The next message: data, ping, pong or close (the replies to a ping and a close are
    /// already in [`Control`]); `None` once the peer closed, the socket ended between frames,
    /// or after an error (the first error ends the reading).
    pub async fn next(&mut self) -> Option<Result<Message, ReadError>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, ReadError>>> {
        let next = self.poll_read_on(cx);
        if let Poll::Ready(Some(Err(_))) = &next {
            // Nothing is read after an error: what was kept goes.
            self.closed = true;
            self.buf = BytesMut::new();
            self.partial = None;
        }
        next
    }

    fn poll_read_on(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, ReadError>>> {
        loop {
            if self.closed {
                return Poll::Ready(None);
            }
            match self.take() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            match ready!(self.poll_fill(cx)) {
                Ok(true) => {}
                Ok(false) if self.buf.is_empty() && self.partial.is_none() => return Poll::Ready(None),
                Ok(false) => {
                    let ended =
                        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the connection ended within a frame");
                    return Poll::Ready(Some(Err(ReadError::Io(ended))));
                }
                Err(e) => return Poll::Ready(Some(Err(ReadError::Io(e)))),
            }
        }
    }

    /// Reads what the socket has into `buf`: `Ok(false)` at its end. Within a frame whose
    /// header was read, no more than the rest of the frame: `buf` has room for exactly that.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<bool>> {
        let mut stack = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let room = self.buf.capacity() - self.buf.len();
        let limit = if self.buf.is_empty() || room == 0 { READ_CHUNK } else { room.min(READ_CHUNK) };
        let mut read = ReadBuf::uninit(&mut stack[..limit]);
        ready!(Pin::new(&mut self.read).poll_read(cx, &mut read))?;
        if read.filled().is_empty() {
            return Poll::Ready(Ok(false));
        }
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(true))
    }

    /// Takes the frames that are whole from `buf` until one makes a message: `Ok(None)` when
    /// more bytes are needed.
    fn take(&mut self) -> Result<Option<Message>, ReadError> {
        loop {
            let Some(header) = header(&self.buf, self.max)? else { return Ok(None) };
            self.check(&header)?;
            let whole = header.size.saturating_add(header.len);
            if self.buf.len() < whole {
                // Room for the rest of the frame at once, not a reallocation per read.
                self.buf.reserve(whole - self.buf.len());
                return Ok(None);
            }
            let mut payload = if self.buf.len() == whole {
                // The whole buffer: nothing is kept between frames.
                std::mem::take(&mut self.buf)
            } else {
                self.buf.split_to(whole)
            };
            payload.advance(header.size);
            unmask(&mut payload, header.mask);
            if let Some(message) = self.frame(header.fin, header.opcode, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// What a frame's header alone says is wrong with it in this place of the stream: checked
    /// before its payload is waited for (and room made for it).
    fn check(&self, header: &Header) -> Result<(), ReadError> {
        match (header.opcode, &self.partial) {
            (0x1 | 0x2, Some(_)) => Err(ReadError::Protocol("a new message began before the fragmented one ended")),
            (0x0, None) => Err(ReadError::Protocol("a continuation frame without a message to continue")),
            (0x0, Some(partial)) if partial.data.len() + header.len > self.max => {
                Err(ReadError::TooBig { size: partial.data.len() + header.len, max: self.max })
            }
            (0x0..=0x2 | 0x8..=0xA, _) => Ok(()),
            _ => Err(ReadError::Protocol("an unknown opcode")),
        }
    }

    /// One whole frame, checked by [`Self::check`]: the message it completes, if any.
    fn frame(&mut self, fin: bool, opcode: u8, payload: BytesMut) -> Result<Option<Message>, ReadError> {
        match opcode {
            0x1 if fin => text(payload.freeze()).map(Some),
            0x2 if fin => Ok(Some(Message::Binary(payload.freeze()))),
            0x1 | 0x2 => {
                self.partial = Some(Box::new(Partial { text: opcode == 0x1, data: payload }));
                Ok(None)
            }
            0x0 => {
                // `check` made sure there is a message to continue and room for this part.
                let Some(partial) = &mut self.partial else { return Ok(None) };
                let size = partial.data.len() + payload.len();
                if size > partial.data.capacity() {
                    // Room doubles, but never past the limit: a message in fragments holds at
                    // most `max` bytes of room however it is cut.
                    let mut grown = BytesMut::with_capacity(size.max(partial.data.capacity() * 2).min(self.max));
                    grown.extend_from_slice(&partial.data);
                    partial.data = grown;
                }
                partial.data.extend_from_slice(&payload);
                if !fin {
                    return Ok(None);
                }
                let Partial { text: is_text, data } = *self.partial.take().expect("checked above");
                if is_text {
                    text(data.freeze()).map(Some)
                } else {
                    Ok(Some(Message::Binary(data.freeze())))
                }
            }
            0x8 => self.close(payload.freeze()).map(Some),
            0x9 => {
                self.control.reply(0xA, &payload);
                Ok(Some(Message::Ping(payload.freeze())))
            }
            0xA => Ok(Some(Message::Pong(payload.freeze()))),
            _ => Err(ReadError::Protocol("an unknown opcode")),
        }
    }

    /// The peer's close: echoed (a code that may not be sent is answered with 1002).
    fn close(&mut self, payload: Bytes) -> Result<Message, ReadError> {
        let frame = match payload.len() {
            0 => None,
            1 => return Err(ReadError::Protocol("a close frame's code must be two bytes")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = Utf8Bytes::try_from(payload.slice(2..)).map_err(|_| ReadError::Utf8)?;
                Some(CloseFrame { code: code.into(), reason })
            }
        };
        match &frame {
            None => self.control.reply(0x8, &[]),
            Some(f) if close_code_allowed(u16::from(f.code)) => self.control.reply(0x8, &payload),
            Some(_) => self.control.reply(0x8, &[0x03, 0xEA]),
        }
        self.closed = true;
        Ok(Message::Close(frame))
    }
}

#[cfg(test)]
#[path = "wsread_tests.rs"]
mod tests;
