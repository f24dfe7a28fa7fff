//! Message channels and user channels through a real server on 127.0.0.1:0 (docs/PROTOCOL.md#operations).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use piazza_engine::client::{Payload, PublishOptions, SubscribeOptions};
use piazza_engine::protocol::ChannelType;
use piazza_engine::ErrorCode;

fn user_channel() -> PublishOptions {
    PublishOptions { channel_type: ChannelType::User, ..Default::default() }
}

#[tokio::test]
async fn subscribers_receive_every_field_and_the_payload_in_its_type() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    alice.client.call(|c, r| c.subscribe(r, "room 1", SubscribeOptions::default())).await.unwrap();

    let options = PublishOptions { custom_type: "chat".into(), ..Default::default() };
    let answer =
        bob.client.call(|c, r| c.publish(r, "room 1", Payload::Text("hello".into()), options.clone())).await.unwrap();
    let answer: serde_json::Value = serde_json::from_str(answer.get()).unwrap();
    assert_eq!(answer["channelName"], "room 1");
    assert!(answer["timestamp"].as_u64().unwrap() > 0);

    let got = alice.next_message().await;
    assert_eq!(got.payload, Payload::Text("hello".into()));
    let h = &got.header;
    assert_eq!(
        (h["channelType"].as_str(), h["channelName"].as_str(), h["topicName"].as_str()),
        (Some("MESSAGE"), Some("room 1"), Some(""))
    );
    assert_eq!((h["messageType"].as_str(), h["customType"].as_str()), (Some("STRING"), Some("chat")));
    assert_eq!(h["publisher"], "bob");
    assert!(h["timestamp"].as_u64().unwrap() > 0);

    let bytes = Bytes::from_static(&[0, 159, 146, 150, 255]);
    bob.client
        .call(|c, r| c.publish(r, "room 1", Payload::Binary(bytes.clone()), PublishOptions::default()))
        .await
        .unwrap();
    let got = alice.next_message().await;
    assert_eq!(got.payload, Payload::Binary(bytes));
    assert_eq!(got.header["messageType"], "BINARY");
}

#[tokio::test]
async fn the_publisher_gets_its_own_message_only_when_subscribed() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    alice
        .client
        .call(|c, r| c.publish(r, "c", Payload::Text("not subscribed".into()), Default::default()))
        .await
        .unwrap();
    alice.no_message(Duration::from_millis(200)).await;
    alice.client.call(|c, r| c.subscribe(r, "c", SubscribeOptions::default())).await.unwrap();
    alice.client.call(|c, r| c.publish(r, "c", Payload::Text("subscribed".into()), Default::default())).await.unwrap();
    assert_eq!(alice.next_message().await.payload, Payload::Text("subscribed".into()));
}

#[tokio::test]
async fn with_message_false_and_unsubscribe_stop_delivery() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let quiet = SubscribeOptions { with_message: false, ..Default::default() };
    alice.client.call(|c, r| c.subscribe(r, "c", quiet)).await.unwrap();
    bob.client.call(|c, r| c.publish(r, "c", Payload::Text("x".into()), Default::default())).await.unwrap();
    alice.no_message(Duration::from_millis(200)).await;
    alice.client.call(|c, r| c.subscribe(r, "c", SubscribeOptions::default())).await.unwrap();
    alice.client.call(|c, r| c.unsubscribe(r, "c")).await.unwrap();
    bob.client.call(|c, r| c.publish(r, "c", Payload::Text("y".into()), Default::default())).await.unwrap();
    alice.no_message(Duration::from_millis(200)).await;
    let e = alice.client.call(|c, r| c.unsubscribe(r, "c")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelNotSubscribed);
}

#[tokio::test]
async fn user_channel_messages_reach_one_user_and_name_the_publisher() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    let mut carol = login(&server, "carol").await;
    alice.client.call(|c, r| c.publish(r, "bob", Payload::Text("psst".into()), user_channel())).await.unwrap();
    let got = bob.next_message().await;
    assert_eq!(got.payload, Payload::Text("psst".into()));
    assert_eq!((got.header["channelType"].as_str(), got.header["channelName"].as_str()), (Some("USER"), Some("alice")));
    carol.no_message(Duration::from_millis(200)).await;

    let e =
        alice.client.call(|c, r| c.publish(r, "nobody", Payload::Text("?".into()), user_channel())).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelReceiverOffline);
}

#[tokio::test]
async fn apps_are_isolated() {
    let server = server().await;
    let mut a = login_with(config(&server, "app1", "same")).await;
    let b = login_with(config(&server, "app2", "same")).await;
    a.client.call(|c, r| c.subscribe(r, "c", SubscribeOptions::default())).await.unwrap();
    b.client.call(|c, r| c.publish(r, "c", Payload::Text("other app".into()), Default::default())).await.unwrap();
    a.no_message(Duration::from_millis(200)).await;
    // Same user id in two apps: both stay logged in.
    assert!(a.client.is_active() && b.client.is_active());
}

#[tokio::test]
async fn each_publisher_is_delivered_in_order_over_thousands_of_messages() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut sub = login(&server, "sub").await;
    sub.client.call(|c, r| c.subscribe(r, "ordered", SubscribeOptions::default())).await.unwrap();
    let publishers = [login(&server, "p1").await, login(&server, "p2").await];
    const N: usize = 1500;
    for (p, publisher) in publishers.iter().enumerate() {
        for i in 0..N {
            let text = format!("{p}:{i}");
            publisher
                .client
                .publish(piazza_engine::client::Route::Ignore, "ordered", Payload::Text(text), Default::default())
                .unwrap();
        }
    }
    let mut next = [0usize; 2];
    for _ in 0..2 * N {
        let got = sub.next_message().await;
        let Payload::Text(text) = got.payload else { panic!() };
        let (p, i) = text.split_once(':').unwrap();
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "publisher {p} out of order");
        next[p] += 1;
    }
    assert_eq!(next, [N, N]);
    sub.no_message(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn every_limit_is_refused_with_its_code() {
    let server = server_with(|c| c.limits.max_subscriptions_per_client = 3).await;
    let alice = login(&server, "alice").await;
    let c = &alice.client;

    // Refused locally, before sending.
    let e = c
        .publish(
            piazza_engine::client::Route::Ignore,
            "c",
            Payload::Binary(vec![0; 32 * 1024 + 1].into()),
            Default::default(),
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelMessageLengthExceedLimitation);
    c.call(|c, r| c.publish(r, "c", Payload::Binary(vec![0; 32 * 1024].into()), Default::default())).await.unwrap();
    assert_eq!(
        c.subscribe(piazza_engine::client::Route::Ignore, "bad/name", Default::default()).unwrap_err().code,
        ErrorCode::InvalidChannelName
    );
    let long_type = PublishOptions { custom_type: "t".repeat(33), ..Default::default() };
    assert_eq!(
        c.publish(piazza_engine::client::Route::Ignore, "c", Payload::Text("x".into()), long_type).unwrap_err().code,
        ErrorCode::ChannelCustomTypeLengthOverflow
    );
    assert_eq!(
        c.publish(piazza_engine::client::Route::Ignore, "a b.c", Payload::Text("x".into()), user_channel())
            .unwrap_err()
            .code,
        ErrorCode::InvalidUserId
    );

    // Refused by the server.
    for name in ["s1", "s2", "s3"] {
        c.call(|c, r| c.subscribe(r, name, Default::default())).await.unwrap();
    }
    let e = c.call(|c, r| c.subscribe(r, "s4", Default::default())).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelInstanceExceedLimitation);
    c.call(|c, r| c.subscribe(r, "s1", Default::default())).await.expect("re-subscribing is not a new subscription");

    // 70 publishes at once into a bucket of 60 that refills at 60 per second: at least 10 are
    // refused, less one for each 1/60 s the burst took to arrive (a loaded machine is slow).
    let started = std::time::Instant::now();
    let publishes =
        (0..70).map(|i| c.call(move |c, r| c.publish(r, "rate", Payload::Text(i.to_string()), Default::default())));
    let results = futures_util::future::join_all(publishes).await;
    let refills = (started.elapsed().as_secs_f64() * 60.0).ceil() as usize;
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(refused.len() >= 10usize.saturating_sub(refills).max(1), "{} refused, {refills} refills", refused.len());
    assert!(refused.iter().all(|e| e.code == ErrorCode::ChannelPublishMessageTooFrequent));
}

#[tokio::test]
async fn calls_before_login_are_refused_with_not_login() {
    let server = server().await;
    let (sink, _events) = piazza_engine::client::ChannelSink::new();
    let client = piazza_engine::client::Client::new(config(&server, "app", "u"), std::sync::Arc::new(sink)).unwrap();
    let e = client.subscribe(piazza_engine::client::Route::Ignore, "c", Default::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotLogin);
}
