//! Encoding and decoding of frames. The server decodes client frames strictly and encodes its
//! own frames once (a published message is encoded once and the same bytes go to every
//! subscriber); the client decodes server frames leniently, borrowing from the received bytes.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::{protocol::CloseFrame, Message, Utf8Bytes};

use super::{ClientFrame, MAX_HEADER_BYTES};
use crate::error::Error;

/// A decoded client frame and its payload, if it carried one.
#[derive(Debug)]
pub struct Inbound {
    pub frame: ClientFrame,
    pub payload: Option<Bytes>,
}

/// Why a client frame could not be decoded, and the request id if one could be read, so the
/// error frame can be correlated.
#[derive(Debug)]
pub struct DecodeError {
    pub id: Option<u64>,
    pub error: Error,
}

fn malformed(json: &[u8], reason: String) -> DecodeError {
    #[derive(Deserialize)]
    struct Peek {
        id: Option<u64>,
    }
    let id = serde_json::from_slice::<Peek>(json).ok().and_then(|p| p.id);
    DecodeError { id, error: Error::invalid(format!("malformed frame: {reason}")) }
}

/// Splits a binary frame into its JSON header and its payload.
pub(super) fn split_binary(data: &[u8]) -> Result<(&[u8], usize), String> {
    if data.len() < 4 {
        return Err("binary frame shorter than its 4-byte header length".into());
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if len > MAX_HEADER_BYTES {
        return Err(format!("binary frame header of {len} bytes exceeds {MAX_HEADER_BYTES}"));
    }
    if 4 + len > data.len() {
        return Err(format!("binary frame header length {len} runs past the frame's {} bytes", data.len()));
    }
    Ok((&data[4..4 + len], 4 + len))
}

/// Decodes one data message from a client. `Ping`/`Pong`/`Close` are not data messages and
/// must be handled by the caller.
pub fn decode_client(message: Message) -> Result<Inbound, DecodeError> {
    match message {
        Message::Text(text) => {
            let frame: ClientFrame =
                serde_json::from_str(&text).map_err(|e| malformed(text.as_bytes(), e.to_string()))?;
            let mut inbound = Inbound { frame, payload: None };
            if let ClientFrame::Publish(p) = &mut inbound.frame {
                match (p.data.take(), p.message_type) {
                    (Some(data), super::MessageType::String) => inbound.payload = Some(Bytes::from(data)),
                    (Some(_), super::MessageType::Binary) => {
                        return Err(DecodeError {
                            id: Some(p.id),
                            error: Error::invalid("BINARY payloads travel in binary frames, not in `data`"),
                        })
                    }
                    (None, _) => {
                        return Err(DecodeError {
                            id: Some(p.id),
                            error: Error::invalid("publish needs `data` or a binary frame payload"),
                        })
                    }
                }
            }
            Ok(inbound)
        }
        Message::Binary(data) => {
            let (header, offset) =
                split_binary(&data).map_err(|r| DecodeError { id: None, error: Error::invalid(r) })?;
            let frame: ClientFrame = serde_json::from_slice(header).map_err(|e| malformed(header, e.to_string()))?;
            if !frame.takes_payload() {
                return Err(DecodeError {
                    id: frame.id(),
                    error: Error::invalid(format!("op {:?} carries no payload; send it as a text frame", frame.op())),
                });
            }
            if let ClientFrame::Publish(p) = &frame {
                if p.data.is_some() {
                    return Err(DecodeError {
                        id: Some(p.id),
                        error: Error::invalid("a binary frame carries its payload after the header, not in `data`"),
                    });
                }
            }
            Ok(Inbound { frame, payload: Some(data.slice(offset..)) })
        }
        other => Err(DecodeError { id: None, error: Error::invalid(format!("not a data frame: {other:?}")) }),
    }
}

/// A request frame as encoded, with its `id` replaced (`None` for a frame that is not a request
/// as the client encodes them).
pub fn with_id(message: &Message, id: u64) -> Option<Message> {
    let renumber = |header: &[u8]| -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header).ok()?;
        object.contains_key("id").then_some(())?;
        object.insert("id".into(), id.into());
        Some(object)
    };
    match message {
        Message::Text(text) => {
            let object = renumber(text.as_bytes())?;
            Some(Message::Text(serde_json::to_string(&object).ok()?.into()))
        }
        Message::Binary(data) => {
            let (header, offset) = split_binary(data).ok()?;
            let object = renumber(header)?;
            Some(Message::Binary(encode_binary(&object, &data[offset..])))
        }
        _ => None,
    }
}

/// Encodes a binary frame: header length, JSON header, payload.
pub fn encode_binary(header: &impl Serialize, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + 160 + payload.len());
    buf.put_u32(0);
    {
        let mut writer = (&mut buf).writer();
        serde_json::to_writer(&mut writer, header).expect("frame headers always serialize");
    }
    let len = (buf.len() - 4) as u32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    buf.freeze()
}

/// A close frame with a code and a reason (truncated to the 123 bytes a close frame can hold).
pub fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame { code: code.into(), reason: Utf8Bytes::from(reason[..end].to_string()) }))
}

/// Appends `message` to `out` as a complete server-to-client WebSocket frame (RFC 6455: final,
/// unmasked). The server writes its frames itself: a batch of queued frames becomes one buffer
/// and one write, without going through the WebSocket library frame by frame.
pub fn ws_encode(message: &Message, out: &mut Vec<u8>) {
    let mut close_payload = Vec::new();
    let (opcode, payload): (u8, &[u8]) = match message {
        Message::Text(t) => (0x1, t.as_bytes()),
        Message::Binary(b) => (0x2, b),
        Message::Ping(p) => (0x9, p),
        Message::Pong(p) => (0xA, p),
        Message::Close(frame) => {
            if let Some(frame) = frame {
                close_payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
                close_payload.extend_from_slice(frame.reason.as_bytes());
            }
            (0x8, &close_payload)
        }
        // Raw frames are a client-side testing device; the server never queues one.
        Message::Frame(_) => return,
    };
    ws_frame(opcode, payload, out);
}

/// Appends a final, unmasked frame of `opcode` carrying `payload`.
pub fn ws_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    // One allocation for a fresh buffer, not one for the header and another for the payload.
    out.reserve(payload.len() + 10);
    ws_header(opcode, payload.len(), out);
    out.extend_from_slice(payload);
}

/// Appends only the header of a data frame and returns its payload (shared, not copied), to be
/// written right after the header; other frames are appended whole and give `None`.
pub fn ws_encode_split(message: &Message, out: &mut Vec<u8>) -> Option<bytes::Bytes> {
    let (opcode, payload) = match message {
        Message::Text(t) => (0x1, bytes::Bytes::from(t.clone())),
        Message::Binary(b) => (0x2, b.clone()),
        other => {
            ws_encode(other, out);
            return None;
        }
    };
    ws_header(opcode, payload.len(), out);
    Some(payload)
}

/// Appends a final, unmasked frame header (RFC 6455 §5.2).
fn ws_header(opcode: u8, len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match len {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn frames_encode_as_the_websocket_library_reads_them() {
        use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
        let cases = [
            Message::Text("hi".into()),
            Message::Binary(vec![7u8; 300].into()),
            Message::Binary(vec![1u8; 70_000].into()),
            close(4003, "slow consumer"),
            Message::Close(None),
            Message::Pong(Bytes::from_static(b"p")),
        ];
        for message in cases {
            let mut out = Vec::new();
            ws_encode(&message, &mut out);
            let mut cursor = std::io::Cursor::new(&out[..]);
            let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert!(header.is_final && header.mask.is_none());
            let body = &out[cursor.position() as usize..];
            assert_eq!(body.len() as u64, len);
            match &message {
                Message::Text(t) => assert_eq!(body, t.as_bytes()),
                Message::Binary(b) | Message::Pong(b) => assert_eq!(body, &b[..]),
                Message::Close(Some(f)) => {
                    assert_eq!(u16::from_be_bytes([body[0], body[1]]), u16::from(f.code));
                    assert_eq!(&body[2..], f.reason.as_bytes());
                }
                _ => assert!(body.is_empty()),
            }
        }
    }
    use crate::protocol::{MessageType, Publish};

    #[test]
    fn text_publish_moves_data_into_the_payload() {
        let msg = Message::Text(r#"{"op":"publish","id":3,"channel":"c","messageType":"STRING","data":"hi"}"#.into());
        let inbound = decode_client(msg).unwrap();
        assert_eq!(inbound.payload.as_deref(), Some(&b"hi"[..]));
        match inbound.frame {
            ClientFrame::Publish(Publish { id: 3, data: None, message_type: MessageType::String, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_frames_round_trip_without_inflation() {
        let header = serde_json::json!({"op":"publish","id":9,"channel":"c","messageType":"BINARY"});
        let payload = vec![0u8, 255, 1, 2];
        let bytes = encode_binary(&header, &payload);
        let inbound = decode_client(Message::Binary(bytes.clone())).unwrap();
        assert_eq!(inbound.payload.as_deref(), Some(&payload[..]));
        assert_eq!(bytes.len(), 4 + header.to_string().len() + payload.len());
    }

    #[test]
    fn unknown_ops_and_fields_are_errors_with_the_id_when_readable() {
        let e = decode_client(Message::Text(r#"{"op":"fly","id":4}"#.into())).unwrap_err();
        assert_eq!(e.id, Some(4));
        assert_eq!(e.error.code, ErrorCode::InvalidParameter);
        let e =
            decode_client(Message::Text(r#"{"op":"subscribe","id":5,"channel":"c","bogus":1}"#.into())).unwrap_err();
        assert_eq!(e.id, Some(5));
        assert!(e.error.reason.contains("bogus"), "{}", e.error.reason);
        let e = decode_client(Message::Text("not json".into())).unwrap_err();
        assert_eq!(e.id, None);
    }

    #[test]
    fn broken_binary_framing_is_an_error_not_a_panic() {
        for data in
            [vec![], vec![0, 0], vec![0, 0, 0, 9, b'{'], vec![255, 255, 255, 255, 0], vec![0, 0, 0, 2, b'{', b'}']]
        {
            assert!(decode_client(Message::Binary(Bytes::from(data))).is_err());
        }
        let sub = serde_json::json!({"op":"subscribe","id":1,"channel":"c"});
        let e = decode_client(Message::Binary(encode_binary(&sub, b"x"))).unwrap_err();
        assert!(e.error.reason.contains("carries no payload"));
    }
}
