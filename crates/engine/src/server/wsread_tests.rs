use std::collections::VecDeque;
use std::sync::Arc;

use super::*;

/// A socket that gives its bytes in the pieces it was given (a piece per read), then ends.
struct Pieces(VecDeque<Vec<u8>>);

impl AsyncRead for Pieces {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.0.pop_front() {
            let n = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push_front(piece.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: `first` is FIN, reserved bits and opcode.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    let mut masked = payload.to_vec();
    unmask(&mut masked, MASK);
    out.extend_from_slice(&masked);
    out
}

fn reader(pieces: Vec<Vec<u8>>, max: usize) -> FrameReader<Pieces> {
    FrameReader::new(Pieces(pieces.into()), &[], max, Arc::new(Control::default()))
}

fn all(bytes: Vec<u8>, max: usize) -> (Vec<Result<Message, ReadError>>, Vec<u8>) {
    let mut reader = reader(vec![bytes], max);
    let mut out = Vec::new();
    while let Poll::Ready(Some(item)) = reader.poll_next(&mut Context::from_waker(std::task::Waker::noop())) {
        let failed = item.is_err();
        out.push(item);
        if failed {
            break;
        }
    }
    let replies = std::mem::take(&mut *reader.control.bytes.lock());
    (out, replies)
}

fn one_error(bytes: Vec<u8>, max: usize) -> ReadError {
    match all(bytes, max).0.pop() {
        Some(Err(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn frames_read_a_byte_at_a_time_make_their_messages_and_leave_no_buffer_behind() {
    let mut bytes = frame(0x81, br#"{"op":"ping"}"#);
    bytes.extend(frame(0x82, &[7u8; 300]));
    bytes.extend(frame(0x82, &vec![1u8; 70_000]));
    let pieces = bytes.into_iter().map(|b| vec![b]).collect();
    let mut reader = reader(pieces, 100_000);
    assert_eq!(reader.next().await.unwrap().unwrap(), Message::Text(r#"{"op":"ping"}"#.into()));
    assert_eq!(reader.buf.capacity(), 0, "nothing is kept between frames");
    assert_eq!(reader.next().await.unwrap().unwrap(), Message::Binary(vec![7u8; 300].into()));
    assert_eq!(reader.next().await.unwrap().unwrap(), Message::Binary(vec![1u8; 70_000].into()));
    assert_eq!(reader.buf.capacity(), 0);
    assert!(reader.next().await.is_none(), "the socket ended between frames");
}

#[tokio::test]
async fn several_frames_in_one_read_come_one_message_at_a_time() {
    let mut bytes = frame(0x81, b"a");
    bytes.extend(frame(0x81, b"b"));
    bytes.extend(&frame(0x81, b"c")[..3]);
    let mut reader = reader(vec![bytes, frame(0x81, b"c")[3..].to_vec()], 100);
    for expected in ["a", "b", "c"] {
        assert_eq!(reader.next().await.unwrap().unwrap(), Message::Text(expected.into()));
    }
    assert_eq!(reader.buf.capacity(), 0);
}

#[test]
fn a_fragmented_message_is_put_together_around_a_ping_which_is_answered() {
    let mut bytes = frame(0x01, b"hel");
    bytes.extend(frame(0x89, b"p1"));
    bytes.extend(frame(0x00, b"lo "));
    bytes.extend(frame(0x80, "wörld".as_bytes()));
    let (items, replies) = all(bytes, 100);
    let items: Vec<Message> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(items, [Message::Ping(Bytes::from_static(b"p1")), Message::Text("hello wörld".into())]);
    assert_eq!(replies, [0x8A, 2, b'p', b'1'], "an unmasked pong with the ping's data");
}

#[test]
fn a_close_is_echoed_and_ends_the_reading() {
    let mut bytes = frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']);
    bytes.extend(frame(0x81, b"after"));
    let (items, replies) = all(bytes, 100);
    assert_eq!(items.len(), 1);
    match &items[0] {
        Ok(Message::Close(Some(f))) => assert_eq!((u16::from(f.code), f.reason.as_str()), (1000, "bye")),
        other => panic!("{other:?}"),
    }
    assert_eq!(replies, [0x88, 5, 0x03, 0xE8, b'b', b'y', b'e']);
    let (items, replies) = all(frame(0x88, &[]), 100);
    assert!(matches!(items[..], [Ok(Message::Close(None))]));
    assert_eq!(replies, [0x88, 0]);
    // 1005 may not be sent: answered with 1002.
    let (_, replies) = all(frame(0x88, &[0x03, 0xED]), 100);
    assert_eq!(replies, [0x88, 2, 0x03, 0xEA]);
}

#[test]
fn sizes_are_checked_from_the_header_and_across_fragments() {
    // The header alone says it is too big: the payload is never waited for.
    let header = frame(0x82, &[0u8; 200])[..8].to_vec();
    assert!(matches!(one_error(header, 100), ReadError::TooBig { size: 200, max: 100 }));
    let mut bytes = frame(0x02, &[0u8; 60]);
    bytes.extend(frame(0x80, &[0u8; 60]));
    assert!(matches!(one_error(bytes, 100), ReadError::TooBig { size: 120, max: 100 }));
    let huge = vec![0x82, 0x80 | 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(one_error(huge, 100), ReadError::TooBig { max: 100, .. }));
}

#[test]
fn what_a_header_says_is_refused_before_its_payload_arrives() {
    // Each case is sent up to its header only: the error comes without waiting for the rest.
    let head = |bytes: Vec<u8>, header_len: usize| bytes[..bytes.len() - header_len].to_vec();
    let mut fragmented = frame(0x02, &[0u8; 60]);
    fragmented.extend(head(frame(0x80, &[0u8; 60]), 60));
    assert!(matches!(one_error(fragmented, 100), ReadError::TooBig { size: 120, max: 100 }));
    let mut interleaved = frame(0x01, b"a");
    interleaved.extend(head(frame(0x81, &[b'b'; 50]), 50));
    assert!(matches!(one_error(interleaved, 100), ReadError::Protocol(_)));
    assert!(matches!(one_error(head(frame(0x83, &[0u8; 50]), 50), 100), ReadError::Protocol(_)));
    assert!(matches!(one_error(head(frame(0x80, &[0u8; 50]), 50), 100), ReadError::Protocol(_)));
}

#[tokio::test]
async fn a_message_in_many_fragments_never_holds_more_room_than_the_limit() {
    // A frame per read, so the room can be watched after each.
    let mut pieces = vec![frame(0x02, &[1u8; 10])];
    pieces.extend((0..96).map(|_| frame(0x00, &[1u8; 10])));
    pieces.push(frame(0x80, &[1u8; 30]));
    let mut reader = FrameReader::new(Stepped(Pieces(pieces.into()), false), &[], 1000, Default::default());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut most = 0;
    let message = loop {
        match reader.poll_next(&mut cx) {
            Poll::Ready(item) => break item.unwrap().unwrap(),
            Poll::Pending => most = most.max(reader.partial.as_ref().map_or(0, |p| p.data.capacity())),
        }
    };
    assert_eq!(message, Message::Binary(vec![1u8; 1000].into()));
    assert!(most <= 1000, "{most} bytes of room for a message of at most 1,000");
}

#[tokio::test]
async fn nothing_is_read_after_an_error() {
    let mut bytes = frame(0x81, &[0xC3, 0x28]);
    bytes.extend(frame(0x81, b"after"));
    let mut reader = reader(vec![bytes], 100);
    assert!(matches!(reader.next().await, Some(Err(ReadError::Utf8))));
    assert!(reader.next().await.is_none());
    assert_eq!(reader.buf.capacity(), 0, "what was kept went");
    let mut reader = reader_of(frame(0x81 | 0x40, b"a"));
    assert!(matches!(reader.next().await, Some(Err(ReadError::Protocol(_)))));
    assert!(reader.next().await.is_none(), "the same error is not given again");
}

fn reader_of(bytes: Vec<u8>) -> FrameReader<Pieces> {
    reader(vec![bytes], 100)
}

#[test]
fn unmasking_by_words_matches_byte_by_byte() {
    for len in 0..=40 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let mut fast = data.clone();
        unmask(&mut fast, MASK);
        let slow: Vec<u8> = data.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]).collect();
        assert_eq!(fast, slow, "{len} bytes");
    }
}

/// A socket that has nothing every other time it is polled (so each read can be watched).
struct Stepped(Pieces, bool);

impl AsyncRead for Stepped {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        self.1 = !self.1;
        if self.1 {
            return Poll::Pending;
        }
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

#[test]
fn a_big_frame_is_read_into_room_made_once() {
    // A frame of 100,000 bytes, then a small one, in pieces that straddle them: the buffer is
    // never made bigger than the frame (a read past its end would double it).
    let mut bytes = frame(0x82, &vec![5u8; 100_000]);
    bytes.extend(frame(0x81, b"next"));
    let pieces = bytes.chunks(30_000).map(<[u8]>::to_vec).collect();
    let socket = Stepped(Pieces(pieces), false);
    let mut reader = FrameReader::new(socket, &[], 200_000, Arc::new(Control::default()));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let (mut most, mut left) = (0, None);
    let mut messages = Vec::new();
    while messages.len() < 2 {
        match reader.poll_next(&mut cx) {
            Poll::Ready(item) => messages.push(item.expect("a message").expect("no error")),
            Poll::Pending => most = most.max(reader.buf.capacity()),
        }
        // What the big frame's buffer had left once it was taken.
        left = left.or((messages.len() == 1).then(|| reader.buf.capacity()));
    }
    assert_eq!(messages, [Message::Binary(vec![5u8; 100_000].into()), Message::Text("next".into())]);
    assert!((100_000..=100_014).contains(&most), "room for {most} bytes");
    assert!(left.is_some_and(|left| left < 1024), "{left:?} bytes of room left beside the frame");
}

#[test]
fn text_that_is_not_utf8_is_refused_whole_or_in_fragments() {
    assert!(matches!(one_error(frame(0x81, &[0xC3, 0x28]), 100), ReadError::Utf8));
    let mut bytes = frame(0x01, &[b'a', 0xC3]);
    bytes.extend(frame(0x80, &[0x28]));
    assert!(matches!(one_error(bytes, 100), ReadError::Utf8));
    // A character split between fragments is fine.
    let mut bytes = frame(0x01, &[b'a', 0xC3]);
    bytes.extend(frame(0x80, &[0xA9]));
    assert_eq!(all(bytes, 100).0.pop().unwrap().unwrap(), Message::Text("aé".into()));
    assert!(matches!(one_error(frame(0x88, &[0x03, 0xE8, 0xFF]), 100), ReadError::Utf8));
}

#[test]
fn frames_the_protocol_forbids_are_protocol_errors() {
    let unmasked = vec![0x81, 0x01, b'a'];
    let mut interleaved = frame(0x01, b"a");
    interleaved.extend(frame(0x81, b"b"));
    let cases = [
        ("unmasked", unmasked),
        ("reserved bit", frame(0x81 | 0x40, b"a")),
        ("reserved data opcode", frame(0x83, b"a")),
        ("reserved control opcode", frame(0x8B, b"")),
        ("fragmented ping", frame(0x09, b"")),
        ("long ping", frame(0x89, &[0u8; 126])),
        ("lone continuation", frame(0x80, b"a")),
        ("new message inside a fragmented one", interleaved),
        ("one-byte close", frame(0x88, &[3])),
    ];
    for (what, bytes) in cases {
        assert!(matches!(one_error(bytes, 1000), ReadError::Protocol(_)), "{what}");
    }
}

#[test]
fn the_socket_ending_within_a_frame_is_an_error_and_between_frames_is_not() {
    let cut = frame(0x81, b"hello")[..5].to_vec();
    assert!(matches!(one_error(cut, 100), ReadError::Io(_)));
    let (items, _) = all(frame(0x01, b"part"), 100);
    assert!(matches!(items[..], [Err(ReadError::Io(_))]), "a fragmented message left unfinished");
    let (items, _) = all(frame(0x81, b"whole"), 100);
    assert!(matches!(items[..], [Ok(_)]));
}

#[tokio::test]
async fn what_came_after_the_http_head_is_read_first() {
    let first = frame(0x81, b"first");
    let mut reader = FrameReader::new(Pieces(vec![frame(0x81, b"second")].into()), &first, 100, Default::default());
    assert_eq!(reader.next().await.unwrap().unwrap(), Message::Text("first".into()));
    assert_eq!(reader.next().await.unwrap().unwrap(), Message::Text("second".into()));
}
