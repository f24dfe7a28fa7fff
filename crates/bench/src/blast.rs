//! A fake Piazza server for the JS event-path scenario: it speaks just enough of protocol v1
//! (hello → welcome, subscribe → ok, ping → pong) and then sends `events` STRING messages to the
//! client as fast as the socket takes them, so what is measured is the client: the addon's
//! network reader, its event batching, and the JS listener.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn message_frame(size: usize) -> Bytes {
    let header = r#"{"t":"msg","mt":"STRING","e":{"channelType":"MESSAGE","channelName":"c","topicName":"","messageType":"STRING","customType":"","publisher":"blaster","timestamp":1767225600000}}"#;
    let mut frame = Vec::with_capacity(4 + header.len() + size);
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    frame.resize(4 + header.len() + size, b'x');
    Bytes::from(frame)
}

pub async fn serve(port: u16, events: u64, size: usize) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let frame = message_frame(size);
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let frame = frame.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            let (mut write, mut read) = ws.split();
            // hello → welcome
            if !matches!(read.next().await, Some(Ok(Message::Text(_)))) {
                return;
            }
            let welcome = r#"{"t":"welcome","v":1,"session":"1","resumeSecret":"","resumed":false,"lastRequest":0,"heartbeat":60,"presenceTimeout":300,"serverTime":0,"limits":{"maxMessageBytes":32768,"maxRealtimeBytes":1024}}"#;
            if write.send(Message::Text(welcome.into())).await.is_err() {
                return;
            }
            let (start_tx, start_rx) = tokio::sync::oneshot::channel::<()>();
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
            // The reader answers requests (subscribe → ok) and pings; the first subscribe starts
            // the flood.
            tokio::spawn(async move {
                let mut start = Some(start_tx);
                while let Some(Ok(frame)) = read.next().await {
                    let Message::Text(text) = frame else { continue };
                    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                    let answer = match value["op"].as_str() {
                        Some("ping") => r#"{"t":"pong"}"#.to_string(),
                        Some(_) => {
                            let id = value["id"].as_u64().unwrap_or(0);
                            format!(r#"{{"t":"ok","id":{id},"r":{{"timestamp":0,"channelName":"c"}}}}"#)
                        }
                        None => continue,
                    };
                    if pong_tx.send(Message::Text(answer.into())).is_err() {
                        break;
                    }
                    if value["op"] == "subscribe" {
                        if let Some(tx) = start.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            });
            // Answers before the flood.
            let mut start_rx = start_rx;
            loop {
                tokio::select! {
                    _ = &mut start_rx => break,
                    answer = pong_rx.recv() => match answer {
                        Some(a) => if write.send(a).await.is_err() { return },
                        None => return,
                    },
                }
            }
            while let Ok(answer) = pong_rx.try_recv() {
                let _ = write.feed(answer).await;
            }
            for i in 0..events {
                if write.feed(Message::Binary(frame.clone())).await.is_err() {
                    return;
                }
                if i % 256 == 255 {
                    while let Ok(answer) = pong_rx.try_recv() {
                        let _ = write.feed(answer).await;
                    }
                    if write.flush().await.is_err() {
                        return;
                    }
                }
            }
            let _ = write.flush().await;
            // Keep answering until the client goes.
            while let Some(answer) = pong_rx.recv().await {
                if write.send(answer).await.is_err() {
                    return;
                }
            }
        });
    }
}
