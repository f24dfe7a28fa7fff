//! Stream channels and topics through a real server (docs/PROTOCOL.md#stream-channels).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use piazza_engine::client::Payload;
use piazza_engine::protocol::{PresenceEventType, TopicEventType};
use piazza_engine::ErrorCode;
use serde_json::json;

async fn join(c: &TestClient, channel: &str) {
    c.ask(json!({"op":"join","channel":channel})).await.expect("join");
}

async fn join_topic(c: &TestClient, channel: &str, topic: &str) {
    c.ask(json!({"op":"joinTopic","channel":channel,"topic":topic,"meta":format!("meta-{topic}")}))
        .await
        .expect("joinTopic");
}

async fn publish(
    c: &TestClient,
    channel: &str,
    topic: &str,
    text: &str,
) -> Result<serde_json::Value, piazza_engine::Error> {
    c.ask_with(
        json!({"op":"publishTopic","channel":channel,"topic":topic,"messageType":"STRING"}),
        Some(Payload::Text(text.into())),
    )
    .await
}

#[tokio::test]
async fn join_gives_snapshots_to_the_joiner_and_remote_join_to_others() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    join(&alice, "room").await;
    let snapshot = alice.next_typed("presence", "SNAPSHOT").await;
    assert_eq!(snapshot["channelType"], "STREAM");
    assert_eq!(snapshot["snapshot"], json!([{"userId":"alice","states":{},"statesCount":0}]));
    let topics = alice.next_topic(TopicEventType::Snapshot).await;
    assert_eq!((topics.topic_infos.len(), topics.total_topics), (0, 0));
    join_topic(&alice, "room", "gesture").await;

    let mut bob = login(&server, "bob").await;
    let answer = bob.ask(json!({"op":"join","channel":"room"})).await.unwrap();
    assert_eq!(answer["channelName"], "room");
    let joined = alice.next_typed("presence", "REMOTE_JOIN").await;
    assert_eq!((joined["publisher"].as_str(), joined["channelName"].as_str()), (Some("bob"), Some("room")));
    let users: Vec<_> = bob.next_typed("presence", "SNAPSHOT").await["snapshot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].clone())
        .collect();
    assert_eq!(users, [json!("alice"), json!("bob")]);
    let topics = bob.next_typed("topic", "SNAPSHOT").await;
    assert_eq!(
        topics["topicInfos"],
        json!([{"topicName":"gesture","publishers":[{"publisherUserId":"alice","publisherMeta":"meta-gesture"}],"totalPublisher":1}])
    );
    assert_eq!(server.stats().stream_channels, 1);
}

#[tokio::test]
async fn topic_events_announce_publishers_with_their_meta() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    join(&alice, "room").await;
    join(&bob, "room").await;
    let answer = alice.ask(json!({"op":"joinTopic","channel":"room","topic":"t1","meta":"{\"x\":1}"})).await.unwrap();
    assert_eq!((answer["channelName"].as_str(), answer["topicName"].as_str()), (Some("room"), Some("t1")));
    let event = bob.next_typed("topic", "REMOTE_JOIN").await;
    assert_eq!(event["publisher"], "alice");
    assert_eq!(event["topicInfos"][0]["publishers"][0], json!({"publisherUserId":"alice","publisherMeta":"{\"x\":1}"}));
    alice.ask(json!({"op":"leaveTopic","channel":"room","topic":"t1"})).await.unwrap();
    let event = bob.next_topic(TopicEventType::RemoteLeave).await;
    assert_eq!(event.topic_infos[0].topic_name, "t1");
}

#[tokio::test]
async fn topic_messages_reach_only_subscribers_of_that_publisher_in_that_topic() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    let mut carol = login(&server, "carol").await;
    let mut outsider = login(&server, "outsider").await;
    for c in [&alice, &bob, &carol] {
        join(c, "room").await;
    }
    join_topic(&alice, "room", "a").await;
    join_topic(&alice, "room", "b").await;
    outsider.client.call(|c, r| c.subscribe(r, "room", Default::default())).await.unwrap();
    let sub = bob.ask(json!({"op":"subscribeTopic","channel":"room","topic":"a","users":["alice"]})).await.unwrap();
    assert_eq!((sub["succeedUsers"].clone(), sub["failedUsers"].clone()), (json!(["alice"]), json!([])));
    assert_eq!(sub["failedDetails"], json!([]));

    let answer = publish(&alice, "room", "a", "to a").await.unwrap();
    assert_eq!(answer["topicName"], "a");
    publish(&alice, "room", "b", "to b").await.unwrap();
    let got = bob.next_message().await;
    assert_eq!(got.payload, Payload::Text("to a".into()));
    assert_eq!(
        (
            got.header["channelType"].as_str(),
            got.header["channelName"].as_str(),
            got.header["topicName"].as_str(),
            got.header["publisher"].as_str()
        ),
        (Some("STREAM"), Some("room"), Some("a"), Some("alice"))
    );
    bob.no_message(Duration::from_millis(150)).await; // not topic b
    carol.no_message(Duration::from_millis(50)).await; // not subscribed
    outsider.no_message(Duration::from_millis(50)).await; // a message channel of the same name
}

#[tokio::test]
async fn subscribe_topic_is_incremental_and_unsubscribe_removes() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut sub = login(&server, "sub").await;
    let publishers = [login(&server, "a").await, login(&server, "b").await, login(&server, "c").await];
    join(&sub, "room").await;
    for p in &publishers {
        join(p, "room").await;
        join_topic(p, "room", "t").await;
    }
    sub.ask(json!({"op":"subscribeTopic","channel":"room","topic":"t","users":["a","b"]})).await.unwrap();
    let second = sub.ask(json!({"op":"subscribeTopic","channel":"room","topic":"t","users":["b","c"]})).await.unwrap();
    assert_eq!(second["succeedUsers"], json!(["b", "c"]));
    for p in &publishers {
        publish(p, "room", "t", "hi").await.unwrap();
    }
    let mut from = BTreeSet::new();
    for _ in 0..3 {
        from.insert(sub.next_message().await.header["publisher"].as_str().unwrap().to_string());
    }
    assert_eq!(from, BTreeSet::from(["a".into(), "b".into(), "c".into()]));

    sub.ask(json!({"op":"unsubscribeTopic","channel":"room","topic":"t","users":["a"]})).await.unwrap();
    publish(&publishers[0], "room", "t", "from a").await.unwrap();
    publish(&publishers[1], "room", "t", "from b").await.unwrap();
    assert_eq!(sub.next_message().await.header["publisher"], "b");
    sub.ask(json!({"op":"unsubscribeTopic","channel":"room","topic":"t"})).await.unwrap();
    publish(&publishers[1], "room", "t", "from b again").await.unwrap();
    sub.no_message(Duration::from_millis(150)).await;
    let e = sub.ask(json!({"op":"unsubscribeTopic","channel":"room","topic":"t"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelTopicNotSubscribed);

    // Without users: every current publisher but itself.
    let all = sub.ask(json!({"op":"subscribeTopic","channel":"room","topic":"t"})).await.unwrap();
    assert_eq!(all["succeedUsers"], json!(["a", "b", "c"]));
}

#[tokio::test]
async fn subscription_failures_are_reported_per_user() {
    let server = server_with(|c| c.limits.max_publishers_per_topic_subscription = 2).await;
    let sub = login(&server, "sub").await;
    join(&sub, "room").await;
    join_topic(&sub, "room", "t").await;
    for name in ["a", "b", "c"] {
        let p = login(&server, name).await;
        join(&p, "room").await;
        join_topic(&p, "room", "t").await;
        std::mem::forget(p); // stay online for the rest of the test
    }
    let r = sub
        .ask(json!({"op":"subscribeTopic","channel":"room","topic":"t","users":["a","b","c","ghost","sub","bad/id"]}))
        .await
        .unwrap();
    assert_eq!(r["succeedUsers"], json!(["a", "b"]));
    let details: BTreeMap<String, i64> = r["failedDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["user"].as_str().unwrap().to_string(), d["errorCode"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        details,
        BTreeMap::from([("c".into(), 20003), ("ghost".into(), 5), ("sub".into(), 6), ("bad/id".into(), 4)])
    );
    assert_eq!(r["failedUsers"].as_array().unwrap().len(), 4);
    assert!(r["failedDetails"][0]["reason"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn leave_drops_publisher_roles_and_subscriptions_and_announces_it() {
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    join(&alice, "room").await;
    join(&bob, "room").await;
    join_topic(&alice, "room", "t1").await;
    join_topic(&alice, "room", "t2").await;
    join_topic(&bob, "room", "t1").await;
    alice.ask(json!({"op":"subscribeTopic","channel":"room","topic":"t1","users":["bob"]})).await.unwrap();
    alice.ask(json!({"op":"leave","channel":"room"})).await.unwrap();
    let topics = bob.next_topic(TopicEventType::RemoteLeave).await;
    assert_eq!(topics.publisher, "alice");
    let names: Vec<&str> = topics.topic_infos.iter().map(|t| t.topic_name.as_str()).collect();
    assert_eq!(names, ["t1", "t2"]);
    assert_eq!(bob.next_presence(PresenceEventType::RemoteLeave).await.publisher, "alice");
    // Rejoined, alice has no roles and no subscriptions left.
    join(&alice, "room").await;
    let e = publish(&alice, "room", "t1", "x").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelTopicNotJoined);
    publish(&bob, "room", "t1", "to nobody").await.unwrap();
    let mut alice = alice;
    alice.no_message(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn calls_in_the_wrong_state_are_refused_with_their_codes() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    let code = |r: Result<serde_json::Value, piazza_engine::Error>| r.unwrap_err().code;
    assert_eq!(
        code(alice.ask(json!({"op":"joinTopic","channel":"room","topic":"t"})).await),
        ErrorCode::ChannelNotJoined
    );
    assert_eq!(code(publish(&alice, "room", "t", "x").await), ErrorCode::ChannelNotJoined);
    assert_eq!(code(alice.ask(json!({"op":"leave","channel":"room"})).await), ErrorCode::ChannelNotJoined);
    join(&alice, "room").await;
    assert_eq!(code(alice.ask(json!({"op":"join","channel":"room"})).await), ErrorCode::ChannelInReuse);
    assert_eq!(code(publish(&alice, "room", "t", "x").await), ErrorCode::ChannelTopicNotJoined);
    assert_eq!(
        code(alice.ask(json!({"op":"leaveTopic","channel":"room","topic":"t"})).await),
        ErrorCode::ChannelTopicNotJoined
    );
    assert_eq!(
        code(alice.ask(json!({"op":"joinTopic","channel":"room","topic":"_bad"})).await),
        ErrorCode::ChannelInvalidTopicName
    );
    assert_eq!(
        code(alice.ask(json!({"op":"joinTopic","channel":"room","topic":"x".repeat(65)})).await),
        ErrorCode::ChannelInvalidTopicName
    );
    assert_eq!(
        code(alice.ask(json!({"op":"joinTopic","channel":"room","topic":"t","meta":"m".repeat(257)})).await),
        ErrorCode::ChannelInvalidTopicMeta
    );
    join_topic(&alice, "room", "t").await;
    let big = Payload::Binary(vec![0; 32 * 1024 + 1].into());
    let e = alice
        .ask_with(json!({"op":"publishTopic","channel":"room","topic":"t","messageType":"BINARY"}), Some(big))
        .await;
    assert_eq!(code(e), ErrorCode::ChannelMessageLengthExceedLimitation);
    let ok = Payload::Binary(vec![0; 32 * 1024].into());
    alice
        .ask_with(json!({"op":"publishTopic","channel":"room","topic":"t","messageType":"BINARY"}), Some(ok))
        .await
        .unwrap();
}

#[tokio::test]
async fn stream_limits_are_enforced_with_their_codes() {
    let server = server_with(|c| {
        c.limits.max_stream_channel_users = 2;
        c.limits.max_stream_channels_per_client = 2;
        c.limits.max_joined_topics = 2;
        c.limits.max_subscribed_topics = 2;
    })
    .await;
    let a = login(&server, "a").await;
    let b = login(&server, "b").await;
    let c = login(&server, "c").await;
    join(&a, "full").await;
    join(&b, "full").await;
    let e = c.ask(json!({"op":"join","channel":"full"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelJoinFailed);
    assert!(e.reason.contains("full"), "{}", e.reason);

    join(&a, "second").await;
    let e = a.ask(json!({"op":"join","channel":"third"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelInstanceExceedLimitation);

    join_topic(&a, "full", "t1").await;
    join_topic(&a, "full", "t2").await;
    let e = a.ask(json!({"op":"joinTopic","channel":"full","topic":"t3"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelExceedTopicLimitation);

    for t in ["s1", "s2"] {
        b.ask(json!({"op":"subscribeTopic","channel":"full","topic":t})).await.unwrap();
    }
    let e = b.ask(json!({"op":"subscribeTopic","channel":"full","topic":"s3"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ChannelExceedTopicLimitation);
}

#[tokio::test]
async fn quiet_members_are_invisible_but_hear_others() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    let mut ghost = login(&server, "ghost").await;
    join(&alice, "room").await;
    alice.next_typed("presence", "SNAPSHOT").await;
    ghost.ask(json!({"op":"join","channel":"room","beQuiet":true})).await.unwrap();
    let snapshot = ghost.next_typed("presence", "SNAPSHOT").await;
    assert_eq!(snapshot["snapshot"], json!([{"userId":"alice","states":{},"statesCount":0}]));
    alice.none_of("presence", Duration::from_millis(150)).await;
    let bob = login(&server, "bob").await;
    join(&bob, "room").await;
    assert_eq!(ghost.next_presence(PresenceEventType::RemoteJoin).await.publisher, "bob");
}

/// 50 users × 8 topics in one channel: every message reaches exactly its subscribers, with no
/// leak across topics, channels or apps.
#[tokio::test]
async fn fifty_users_times_eight_topics_deliver_only_to_the_right_subscribers() {
    const USERS: usize = 50;
    const TOPICS: usize = 8;
    let server = server_with(|c| c.limits.publish_rate_per_channel = 0).await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let c = login(&server, &format!("u{i}")).await;
        join(&c, "big").await;
        for t in 0..TOPICS {
            join_topic(&c, "big", &format!("t{t}")).await;
        }
        users.push(c);
    }
    // Decoys with the same channel and topic names: another channel, another app.
    let mut decoys = Vec::new();
    for (app, user, channel) in [("app", "decoy", "other"), ("app2", "u0", "big")] {
        let d = login_with(config(&server, app, user)).await;
        join(&d, channel).await;
        d.ask(json!({"op":"subscribeTopic","channel":channel,"topic":"t0"})).await.unwrap();
        decoys.push(d);
    }
    // User i subscribes in topic t to the publishers j with (i + j + t).is_multiple_of(3).
    let wanted = |i: usize, j: usize, t: usize| i != j && (i + j + t).is_multiple_of(3);
    for (i, c) in users.iter().enumerate() {
        for t in 0..TOPICS {
            let pubs: Vec<String> = (0..USERS).filter(|&j| wanted(i, j, t)).map(|j| format!("u{j}")).collect();
            let r = c
                .ask(json!({"op":"subscribeTopic","channel":"big","topic":format!("t{t}"),"users":pubs}))
                .await
                .unwrap();
            assert_eq!(r["failedUsers"], json!([]), "{r}");
        }
    }
    for (j, c) in users.iter().enumerate() {
        for t in 0..TOPICS {
            publish(c, "big", &format!("t{t}"), &format!("u{j}/t{t}")).await.unwrap();
        }
    }
    for (i, c) in users.iter_mut().enumerate() {
        let expected: BTreeSet<String> = (0..USERS)
            .flat_map(|j| (0..TOPICS).filter(move |&t| wanted(i, j, t)).map(move |t| format!("u{j}/t{t}")))
            .collect();
        let mut got = BTreeSet::new();
        for _ in 0..expected.len() {
            let m = c.next_message().await;
            let Payload::Text(text) = m.payload else { panic!() };
            assert_eq!(
                format!("{}/{}", m.header["publisher"].as_str().unwrap(), m.header["topicName"].as_str().unwrap()),
                text
            );
            assert!(got.insert(text), "duplicate");
        }
        assert_eq!(got, expected, "user u{i}");
        c.no_message(Duration::from_millis(20)).await;
    }
    for d in &mut decoys {
        d.no_message(Duration::from_millis(50)).await;
    }
}
