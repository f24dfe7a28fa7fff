//! The baseline: a bare tokio-tungstenite broadcast server with default settings, written the
//! way one would in an afternoon. A connection says `sub <channel>` or `pub`; a publisher's
//! binary frames are `u32 LE channel | payload`, and the payload goes to the channel's
//! subscribers through a tokio broadcast channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

type Channels = Arc<Mutex<HashMap<u32, broadcast::Sender<Bytes>>>>;

fn sender(channels: &Channels, channel: u32) -> broadcast::Sender<Bytes> {
    channels.lock().unwrap().entry(channel).or_insert_with(|| broadcast::channel(4096).0).clone()
}

pub async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let channels: Channels = Default::default();
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let channels = channels.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            let (mut write, mut read) = ws.split();
            let Some(Ok(Message::Text(hello))) = read.next().await else { return };
            if write.send(Message::Text("ok".into())).await.is_err() {
                return;
            }
            if let Some(channel) = hello.strip_prefix("sub ").and_then(|c| c.parse::<u32>().ok()) {
                let mut rx = sender(&channels, channel).subscribe();
                // Drain the socket (and notice when it closes) alongside the broadcast.
                let mut reader = tokio::spawn(async move { while let Some(Ok(_)) = read.next().await {} });
                loop {
                    tokio::select! {
                        item = rx.recv() => match item {
                            Ok(payload) => {
                                if write.feed(Message::Binary(payload)).await.is_err() {
                                    break;
                                }
                                // Flush once the broadcast has nothing more ready.
                                if rx.is_empty() && write.flush().await.is_err() {
                                    break;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => break,
                        },
                        _ = &mut reader => break,
                    }
                }
                reader.abort();
            } else {
                let mut senders: HashMap<u32, broadcast::Sender<Bytes>> = HashMap::new();
                while let Some(Ok(frame)) = read.next().await {
                    if let Message::Binary(data) = frame {
                        if data.len() < 4 {
                            continue;
                        }
                        let channel = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                        let tx = senders.entry(channel).or_insert_with(|| sender(&channels, channel));
                        let _ = tx.send(data.slice(4..));
                    }
                }
            }
        });
    }
}
