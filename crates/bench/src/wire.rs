//! What travels: the stamp every benchmark payload starts with, and the few pieces of each
//! peer's wire protocol the load generator needs (Piazza v1, the NATS text protocol, Socket.IO 4
//! over Engine.IO 4, and the bare broadcast's own two frames).

use std::sync::OnceLock;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

/// The stamp: which stream (channel) a message belongs to, its sequence number in that stream
/// (from 1), and when it was sent (nanoseconds since the generator started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub stream: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

pub const STAMP_BYTES: usize = 20;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the generator started; the clock of every stamp.
pub fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl Stamp {
    /// A binary payload of `size` bytes (at least the stamp) that starts with the stamp.
    pub fn binary(&self, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size.max(STAMP_BYTES));
        out.extend_from_slice(&self.stream.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.sent_ns.to_le_bytes());
        out.resize(size.max(STAMP_BYTES), b'.');
        out
    }

    pub fn read_binary(data: &[u8]) -> Option<Stamp> {
        if data.len() < STAMP_BYTES {
            return None;
        }
        Some(Stamp {
            stream: u32::from_le_bytes(data[0..4].try_into().ok()?),
            seq: u64::from_le_bytes(data[4..12].try_into().ok()?),
            sent_ns: u64::from_le_bytes(data[12..20].try_into().ok()?),
        })
    }

    /// A text payload of `size` characters: the stamp as 40 hex digits, then padding.
    pub fn text(&self, size: usize) -> String {
        let mut out = String::with_capacity(size.max(2 * STAMP_BYTES));
        for byte in self.binary(STAMP_BYTES) {
            out.push_str(&format!("{byte:02x}"));
        }
        while out.len() < size {
            out.push('.');
        }
        out
    }

    pub fn read_text(text: &[u8]) -> Option<Stamp> {
        if text.len() < 2 * STAMP_BYTES {
            return None;
        }
        let mut bytes = [0u8; STAMP_BYTES];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let hex = std::str::from_utf8(&text[2 * i..2 * i + 2]).ok()?;
            *byte = u8::from_str_radix(hex, 16).ok()?;
        }
        Stamp::read_binary(&bytes)
    }
}

/// The payload of a Piazza binary frame (`u32 BE header length | header | payload`).
pub fn piazza_payload(frame: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(frame.get(0..4)?.try_into().ok()?) as usize;
    frame.get(4 + len..)
}

/// A Piazza binary publish frame.
pub fn piazza_publish(id: u64, channel: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(r#"{{"op":"publish","id":{id},"channel":"{channel}","messageType":"BINARY"}}"#);
    let mut out = Vec::with_capacity(4 + header.len() + payload.len());
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// One thing a NATS server said.
#[derive(Debug, PartialEq, Eq)]
pub enum Nats {
    Info,
    Msg(Bytes),
    Ping,
    Pong,
    Ok,
    Err(String),
}

/// Takes the next complete NATS protocol message off `buf`, if there is one.
pub fn nats_parse(buf: &mut BytesMut) -> Result<Option<Nats>, String> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = &buf[..eol];
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let message = match &line[..verb_end] {
        b"MSG" => {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let text = std::str::from_utf8(line).map_err(|e| e.to_string())?;
            let len: usize =
                text.rsplit(' ').next().and_then(|n| n.parse().ok()).ok_or_else(|| format!("bad MSG line {text:?}"))?;
            if buf.len() < eol + 2 + len + 2 {
                return Ok(None);
            }
            buf.advance(eol + 2);
            let payload = buf.split_to(len).freeze();
            buf.advance(2);
            return Ok(Some(Nats::Msg(payload)));
        }
        b"PING" => Nats::Ping,
        b"PONG" => Nats::Pong,
        b"+OK" => Nats::Ok,
        b"INFO" => Nats::Info,
        b"-ERR" => Nats::Err(String::from_utf8_lossy(line).into_owned()),
        other => return Err(format!("unexpected NATS line starting {:?}", String::from_utf8_lossy(other))),
    };
    buf.advance(eol + 2);
    Ok(Some(message))
}

/// A Socket.IO event packet (`42["name",args…]`) for one or two string arguments.
pub fn sio_event(name: &str, args: &[&str]) -> String {
    let mut out = format!("42[\"{name}\"");
    for arg in args {
        out.push_str(",\"");
        out.push_str(arg);
        out.push('"');
    }
    out.push(']');
    out
}

/// The stamp of a Socket.IO `m` event (`42["m","<hex stamp>…"]`).
pub fn sio_stamp(text: &str) -> Option<Stamp> {
    let rest = text.strip_prefix("42[\"m\",\"")?;
    Stamp::read_text(rest.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_in_binary_and_text() {
        let stamp = Stamp { stream: 7, seq: 123_456_789, sent_ns: 42 };
        let binary = stamp.binary(128);
        assert_eq!(binary.len(), 128);
        assert_eq!(Stamp::read_binary(&binary), Some(stamp));
        let text = stamp.text(128);
        assert_eq!(text.len(), 128);
        assert_eq!(Stamp::read_text(text.as_bytes()), Some(stamp));
        assert_eq!(sio_stamp(&sio_event("m", &[&text])), Some(stamp));
        assert_eq!(Stamp::read_binary(&binary[..10]), None);
    }

    #[test]
    fn piazza_frames_split_header_and_payload() {
        let frame = piazza_publish(3, "c", b"payload");
        assert_eq!(piazza_payload(&frame), Some(&b"payload"[..]));
        assert_eq!(piazza_payload(&[0, 0]), None);
    }

    #[test]
    fn nats_messages_parse_across_partial_reads() {
        let wire = b"INFO {\"x\":1}\r\nMSG ch.1 1 5\r\nhello\r\nPING\r\nMSG a 2 r 0\r\n\r\n+OK\r\n";
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        for byte in wire {
            buf.extend_from_slice(&[*byte]);
            while let Some(m) = nats_parse(&mut buf).unwrap() {
                seen.push(m);
            }
        }
        assert_eq!(
            seen,
            [Nats::Info, Nats::Msg(Bytes::from_static(b"hello")), Nats::Ping, Nats::Msg(Bytes::new()), Nats::Ok]
        );
        assert!(nats_parse(&mut BytesMut::from(&b"WHAT\r\n"[..])).is_err());
    }
}
