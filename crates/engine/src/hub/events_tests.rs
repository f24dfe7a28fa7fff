//! Presence, topic and token events as the hub builds and encodes them, decoded back through
//! the client's typed accessors ([`ClientEvent::presence`], `topic`, `token`): one set of
//! definitions (`protocol::events`) both ways, and the wire shape docs/PROTOCOL.md documents.

use tokio_tungstenite::tungstenite::Message;

use super::presence::{IntervalDetail, PresenceEvent, PresenceEventType, States, UserList, UserState};
use super::stream::{TopicEvent, TopicEventType, TopicInfo};
use super::token::token_event;
use crate::client::{ClientEvent, EventKind};
use crate::protocol::{decode_server, server, ChannelType, FrameKind, ServerFrame, TokenEvent, TokenEventType};

/// What the client's link makes of a pass-through event frame (see `client/link.rs`).
fn received(frame: &Message) -> ClientEvent {
    let Message::Text(text) = frame else { panic!("events are text frames: {frame:?}") };
    match decode_server(text.as_bytes(), false).unwrap() {
        ServerFrame::Event { kind, body } => {
            let kind = match kind {
                FrameKind::Presence => EventKind::Presence,
                FrameKind::Topic => EventKind::Topic,
                FrameKind::Token => EventKind::Token,
                other => panic!("not a pass-through event: {other:?}"),
            };
            ClientEvent::Event { kind, body: body.to_owned() }
        }
        other => panic!("not an event frame: {other:?}"),
    }
}

fn text(frame: &Message) -> &str {
    match frame {
        Message::Text(t) => t.as_str(),
        other => panic!("not a text frame: {other:?}"),
    }
}

#[test]
fn presence_events_round_trip_with_their_wire_shape() {
    let states: States = [("mood".to_string(), "calm".to_string())].into();
    let mut joined =
        PresenceEvent::about(PresenceEventType::RemoteJoin, ChannelType::Message, "c", "bob").with_states(&states);
    joined.timestamp = 1;
    let frame = server::event(FrameKind::Presence, &joined);
    assert_eq!(
        text(&frame),
        r#"{"t":"presence","e":{"eventType":"REMOTE_JOIN","channelType":"MESSAGE","channelName":"c","publisher":"bob","stateChanged":{"mood":"calm"},"interval":null,"snapshot":null,"timestamp":1}}"#
    );
    let event = received(&frame);
    assert_eq!(event.presence().unwrap().unwrap(), joined);
    assert!(event.topic().is_none() && event.token().is_none(), "only the accessor of its kind answers");

    let users = vec![UserState::new("alice", &States::new()), UserState::new("bob", &states)];
    let snapshot = PresenceEvent::snapshot(ChannelType::Stream, "s", users.clone());
    assert_eq!(received(&server::event(FrameKind::Presence, &snapshot)).presence().unwrap().unwrap(), snapshot);

    let interval = IntervalDetail {
        join: UserList::from(vec!["carol".to_string()]),
        leave: UserList::from(vec!["dave".to_string()]),
        timeout: UserList::default(),
        user_state_list: users,
        total_occupancy: 70,
    };
    let mut crowded = PresenceEvent::interval(ChannelType::Message, "big", interval);
    crowded.timestamp = 2;
    let frame = server::event(FrameKind::Presence, &crowded);
    assert!(text(&frame).contains(
        r#""interval":{"join":{"users":["carol"],"userCount":1},"leave":{"users":["dave"],"userCount":1},"timeout":{"users":[],"userCount":0},"userStateList":[{"userId":"alice","states":{},"statesCount":0},{"userId":"bob","states":{"mood":"calm"},"statesCount":1}],"totalOccupancy":70}"#
    ));
    let decoded = received(&frame).presence().unwrap().unwrap();
    assert_eq!((decoded.event_type, &decoded), (PresenceEventType::Interval, &crowded));
}

#[test]
fn topic_events_round_trip_with_their_wire_shape() {
    let mut joined = TopicEvent::new(
        TopicEventType::RemoteJoin,
        "room",
        "alice",
        vec![TopicInfo::one_publisher("t1", "alice", "m")],
    );
    joined.timestamp = 3;
    let frame = server::event(FrameKind::Topic, &joined);
    assert_eq!(
        text(&frame),
        r#"{"t":"topic","e":{"eventType":"REMOTE_JOIN","channelName":"room","publisher":"alice","topicInfos":[{"topicName":"t1","publishers":[{"publisherUserId":"alice","publisherMeta":"m"}],"totalPublisher":1}],"totalTopics":1,"timestamp":3}}"#
    );
    let event = received(&frame);
    assert_eq!(event.topic().unwrap().unwrap(), joined);
    assert!(event.presence().is_none() && event.token().is_none());

    for event_type in [TopicEventType::Snapshot, TopicEventType::RemoteLeave] {
        let event = TopicEvent::new(event_type, "room", "", vec![]);
        let decoded = received(&server::event(FrameKind::Topic, &event)).topic().unwrap().unwrap();
        assert_eq!((decoded.event_type, decoded.total_topics), (event_type, 0));
    }
}

#[test]
fn token_events_round_trip_with_their_wire_shape() {
    let event = received(&token_event(TokenEventType::WillExpire, ""));
    let warned = event.token().unwrap().unwrap();
    let mut expected = TokenEvent::new(TokenEventType::WillExpire, "");
    expected.timestamp = warned.timestamp;
    assert_eq!(warned, expected);
    assert_eq!(warned.reason, "The token is about to expire");
    assert!(event.presence().is_none() && event.topic().is_none());

    let mut expired = TokenEvent::new(TokenEventType::Expired, "live");
    expired.timestamp = 4;
    let frame = server::event(FrameKind::Token, &expired);
    assert_eq!(
        text(&frame),
        r#"{"t":"token","e":{"eventType":"EXPIRED","reason":"The token expired","channelName":"live","affectedResources":{"messageChannels":[],"streamChannels":["live"]},"timestamp":4}}"#
    );
    assert_eq!(received(&frame).token().unwrap().unwrap(), expired);
    let from_hub = received(&token_event(TokenEventType::Expired, "live")).token().unwrap().unwrap();
    assert_eq!(from_hub.affected_resources.stream_channels, ["live"]);
}

#[test]
fn an_unknown_event_type_is_a_decode_error_not_a_guess() {
    let body = serde_json::value::to_raw_value(&serde_json::json!({"eventType":"SOMETHING_NEW"})).unwrap();
    let event = ClientEvent::Event { kind: EventKind::Token, body };
    assert!(event.token().unwrap().is_err());
}
