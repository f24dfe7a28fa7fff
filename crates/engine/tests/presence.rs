//! Presence (docs/PROTOCOL.md#presence): events, quiet members, states, whoNow/whereNow, interval mode and the
//! presence timeout.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use piazza_engine::protocol::{ChannelType, PresenceEventType};
use piazza_engine::ErrorCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn sub(channel: &str) -> Value {
    json!({"op":"subscribe","channel":channel})
}

#[tokio::test]
async fn join_leave_and_logout_are_announced_to_others_and_snapshot_to_the_joiner() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    alice.ask(sub("c")).await.unwrap();
    let snapshot = alice.next_typed("presence", "SNAPSHOT").await;
    assert_eq!(snapshot["snapshot"], json!([{"userId":"alice","states":{},"statesCount":0}]));
    assert_eq!((snapshot["channelType"].as_str(), snapshot["interval"].clone()), (Some("MESSAGE"), Value::Null));

    let bob = login(&server, "bob").await;
    bob.ask(sub("c")).await.unwrap();
    let joined = alice.next_typed("presence", "REMOTE_JOIN").await;
    for field in
        ["eventType", "channelType", "channelName", "publisher", "stateChanged", "interval", "snapshot", "timestamp"]
    {
        assert!(joined.get(field).is_some(), "{field} missing in {joined}");
    }
    assert_eq!(joined["publisher"], "bob");
    bob.ask(json!({"op":"unsubscribe","channel":"c"})).await.unwrap();
    assert_eq!(alice.next_presence(PresenceEventType::RemoteLeave).await.publisher, "bob");
    bob.ask(sub("c")).await.unwrap();
    alice.next_typed("presence", "REMOTE_JOIN").await;
    let started = Instant::now();
    bob.logout().await;
    assert_eq!(alice.next_presence(PresenceEventType::RemoteLeave).await.publisher, "bob");
    assert!(started.elapsed() < Duration::from_secs(1), "logout is announced at once");
}

#[tokio::test]
async fn quiet_users_hear_everything_and_are_seen_nowhere() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    let mut ghost = login(&server, "ghost").await;
    alice.ask(sub("c")).await.unwrap();
    alice.next_typed("presence", "SNAPSHOT").await;
    ghost.ask(json!({"op":"subscribe","channel":"c","beQuiet":true})).await.unwrap();
    ghost.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"k":"v"}})).await.unwrap();
    alice.none_of("presence", Duration::from_millis(150)).await;
    let who = alice.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!((who["totalOccupancy"].clone(), who["occupants"].as_array().unwrap().len()), (json!(1), 1));
    let wherever = alice.ask(json!({"op":"whereNow","userId":"ghost"})).await.unwrap();
    assert_eq!(wherever["totalChannel"], 0);
    let e =
        alice.ask(json!({"op":"getState","userId":"ghost","channel":"c","channelType":"MESSAGE"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::PresenceUserNotExist);
    let bob = login(&server, "bob").await;
    bob.ask(sub("c")).await.unwrap();
    assert_eq!(ghost.next_presence(PresenceEventType::RemoteJoin).await.publisher, "bob");
}

#[tokio::test]
async fn states_set_before_joining_apply_on_join_and_changes_are_announced() {
    let server = server_with(|c| c.limits.max_states_per_user = 2).await;
    let mut alice = login(&server, "alice").await;
    let mut bob = login(&server, "bob").await;
    alice.ask(sub("c")).await.unwrap();
    alice.next_typed("presence", "SNAPSHOT").await;
    bob.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"mood":"calm"}})).await.unwrap();
    alice.none_of("presence", Duration::from_millis(100)).await; // not joined yet: nothing to tell
    let mine = bob.ask(json!({"op":"getState","userId":"bob","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(mine["states"], json!({"mood":"calm"}));
    bob.ask(sub("c")).await.unwrap();
    let joined = alice.next_typed("presence", "REMOTE_JOIN").await;
    assert_eq!(joined["stateChanged"], json!({"mood":"calm"}));
    let snapshot = bob.next_typed("presence", "SNAPSHOT").await;
    assert!(snapshot["snapshot"]
        .as_array()
        .unwrap()
        .contains(&json!({"userId":"bob","states":{"mood":"calm"},"statesCount":1})));

    bob.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"typing":"yes"}})).await.unwrap();
    let changed = alice.next_typed("presence", "REMOTE_STATE_CHANGED").await;
    assert_eq!(
        (changed["publisher"].clone(), changed["stateChanged"].clone()),
        (json!("bob"), json!({"mood":"calm","typing":"yes"}))
    );
    let got = alice.ask(json!({"op":"getState","userId":"bob","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!((got["userId"].clone(), got["statesCount"].clone()), (json!("bob"), json!(2)));

    let e = bob
        .ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"third":"x"}}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PresenceStateCountOverflow);
    let e = bob
        .ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"k":"v".repeat(8193)}}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PresenceStateValueSizeOverflow);
    let e = bob.ask(json!({"op":"setState","channel":"c","channelType":"USER","states":{"k":"v"}})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidChannelType);

    bob.ask(json!({"op":"removeState","channel":"c","channelType":"MESSAGE","keys":["typing"]})).await.unwrap();
    assert_eq!(alice.next_typed("presence", "REMOTE_STATE_CHANGED").await["stateChanged"], json!({"mood":"calm"}));
    bob.ask(json!({"op":"removeState","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(alice.next_typed("presence", "REMOTE_STATE_CHANGED").await["stateChanged"], json!({}));
    let e =
        alice.ask(json!({"op":"getState","userId":"nobody","channel":"c","channelType":"MESSAGE"})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::PresenceUserNotExist);
    // States are temporary: gone with the membership.
    bob.ask(json!({"op":"setState","channel":"c","channelType":"MESSAGE","states":{"mood":"x"}})).await.unwrap();
    bob.ask(json!({"op":"unsubscribe","channel":"c"})).await.unwrap();
    bob.ask(sub("c")).await.unwrap();
    let again = alice.ask(json!({"op":"getState","userId":"bob","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(again["states"], json!({}));
}

#[tokio::test]
async fn who_now_pages_by_fifty_with_an_opaque_bookmark() {
    let server = server().await;
    let mut raws = Vec::new();
    for i in 0..120 {
        let mut ws = raw_session(&server, &format!("user{i:03}")).await;
        ws.send(Message::Text(
            json!({"op":"subscribe","id":1,"channel":"big","withPresence":false}).to_string().into(),
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["t"], "ok");
        raws.push(ws);
    }
    let asker = login(&server, "asker").await;
    let mut seen = BTreeSet::new();
    let mut page: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let mut req = json!({"op":"whoNow","channel":"big","channelType":"MESSAGE","includedState":true});
        if let Some(p) = &page {
            req["page"] = json!(p);
        }
        let r = asker.ask(req).await.unwrap();
        assert_eq!(r["totalOccupancy"], 120);
        let occupants = r["occupants"].as_array().unwrap();
        sizes.push(occupants.len());
        for o in occupants {
            assert!(seen.insert(o["userId"].as_str().unwrap().to_string()));
            assert_eq!(o["statesCount"], 0);
        }
        match r["nextPage"].as_str().unwrap() {
            "" => break,
            next => page = Some(next.to_string()),
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen.len(), 120);
    let counted =
        asker.ask(json!({"op":"whoNow","channel":"big","channelType":"MESSAGE","includedUserId":false})).await.unwrap();
    assert_eq!((counted["totalOccupancy"].clone(), counted["occupants"].clone()), (json!(120), json!([])));
    let e = asker
        .ask(json!({"op":"whoNow","channel":"big","channelType":"MESSAGE","page":"not-a-bookmark"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PresenceInvalidArgument);
    let empty = asker.ask(json!({"op":"whoNow","channel":"nobody-here","channelType":"STREAM"})).await.unwrap();
    assert_eq!((empty["totalOccupancy"].clone(), empty["nextPage"].clone()), (json!(0), json!("")));
}

#[tokio::test]
async fn where_now_lists_the_visible_channels_of_a_user() {
    let server = server().await;
    let alice = login(&server, "alice").await;
    alice.ask(sub("m1")).await.unwrap();
    alice.ask(json!({"op":"subscribe","channel":"hidden","beQuiet":true})).await.unwrap();
    alice.ask(json!({"op":"join","channel":"s1"})).await.unwrap();
    let bob = login(&server, "bob").await;
    let r = bob.ask(json!({"op":"whereNow","userId":"alice"})).await.unwrap();
    assert_eq!(r["totalChannel"], 2);
    assert_eq!(
        r["channels"],
        json!([{"channelName":"m1","channelType":"MESSAGE"},{"channelName":"s1","channelType":"STREAM"}])
    );
    assert_eq!(bob.ask(json!({"op":"whereNow","userId":"offline"})).await.unwrap()["totalChannel"], 0);
}

#[tokio::test]
async fn a_crowded_channel_folds_presence_into_interval_events() {
    const USERS: usize = 200;
    let server = server_with(|c| {
        c.presence.interval_threshold = 10;
        c.presence.interval_seconds = 0.3;
    })
    .await;
    let mut watcher = login(&server, "watcher").await;
    watcher.ask(sub("crowd")).await.unwrap();
    let mut raws = Vec::new();
    for i in 0..USERS {
        let mut ws = raw_session(&server, &format!("u{i}")).await;
        ws.send(Message::Text(
            json!({"op":"subscribe","id":1,"channel":"crowd","withPresence":false}).to_string().into(),
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["t"], "ok");
        raws.push(ws);
    }
    // Collect presence events until every join was reported one way or another.
    let mut joined = BTreeSet::new();
    let mut individual = 0;
    let mut intervals = 0;
    while joined.len() < USERS {
        let event = watcher.next_of("presence").await;
        match event["eventType"].as_str().unwrap() {
            "REMOTE_JOIN" => {
                individual += 1;
                joined.insert(event["publisher"].as_str().unwrap().to_string());
            }
            "INTERVAL" => {
                intervals += 1;
                let interval = &event["interval"];
                for user in interval["join"]["users"].as_array().unwrap() {
                    joined.insert(user.as_str().unwrap().to_string());
                }
                assert_eq!(
                    interval["join"]["userCount"].as_u64().unwrap() as usize,
                    interval["join"]["users"].as_array().unwrap().len()
                );
                assert!(interval["totalOccupancy"].as_u64().unwrap() > 10);
            }
            _ => {}
        }
    }
    // The watcher plus 9 joins fit under the threshold; the rest arrive folded.
    assert_eq!(individual, 9);
    assert!(intervals >= 1 && individual + intervals < 40, "{individual} individual events and {intervals} intervals");
    // Leaves fold too.
    for ws in raws.iter_mut().take(5) {
        ws.send(Message::Text(json!({"op":"unsubscribe","id":2,"channel":"crowd"}).to_string().into())).await.unwrap();
    }
    let interval = watcher.next_presence(PresenceEventType::Interval).await.interval.expect("the folded changes");
    assert_eq!(interval.leave.user_count, 5);
    assert_eq!(interval.total_occupancy, USERS + 1 - 5);
}

#[tokio::test]
async fn a_crowded_channels_snapshot_lists_the_first_users_and_says_the_real_size() {
    let server = server_with(|c| c.presence.snapshot_max_users = 3).await;
    let mut members = Vec::new();
    for user in ["e", "d", "c", "b", "a"] {
        let member = login(&server, user).await;
        member.ask(json!({"op":"subscribe","channel":"c","withPresence":false})).await.unwrap();
        member.ask(json!({"op":"join","channel":"s","withPresence":false})).await.unwrap();
        members.push(member);
    }
    let mut late = login(&server, "z").await;
    late.ask(sub("c")).await.unwrap();
    late.ask(json!({"op":"join","channel":"s"})).await.unwrap();
    for channel_type in [ChannelType::Message, ChannelType::Stream] {
        let snapshot = loop {
            let event = late.next_presence(PresenceEventType::Snapshot).await;
            if event.channel_type == channel_type {
                break event;
            }
        };
        let users: Vec<String> = snapshot.snapshot.unwrap().into_iter().map(|u| u.user_id).collect();
        assert_eq!(users, ["a", "b", "c"], "{channel_type:?}: the first users by id");
        let occupancy = snapshot.interval.map(|i| i.total_occupancy);
        assert_eq!(occupancy, Some(6), "{channel_type:?}: everyone, the joiner included");
    }
    // whoNow still pages through everyone.
    let who = late.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!((who["totalOccupancy"].clone(), who["occupants"].as_array().unwrap().len()), (json!(6), 6));
    // A channel within the cap gets a whole snapshot and no interval.
    let mut lone = login(&server, "y").await;
    lone.ask(sub("quiet-room")).await.unwrap();
    let snapshot = lone.next_typed("presence", "SNAPSHOT").await;
    assert_eq!((snapshot["snapshot"].as_array().unwrap().len(), snapshot["interval"].clone()), (1, Value::Null));
}

#[tokio::test]
async fn a_vanished_client_times_out_after_its_presence_timeout_and_its_states_go() {
    let server = server().await;
    let mut alice = login(&server, "alice").await;
    alice.ask(sub("c")).await.unwrap();
    let mut ws = raw(&server).await;
    ws.send(hello_with("app", "flaky", 5, 1)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["t"], "welcome");
    ws.send(Message::Text(json!({"op":"subscribe","id":1,"channel":"c"}).to_string().into())).await.unwrap();
    ws.send(Message::Text(
        json!({"op":"setState","id":2,"channel":"c","channelType":"MESSAGE","states":{"k":"v"}}).to_string().into(),
    ))
    .await
    .unwrap();
    alice.next_typed("presence", "REMOTE_STATE_CHANGED").await;
    let vanished = Instant::now();
    drop(ws); // no logout, no close frame
    let got = alice.ask(json!({"op":"getState","userId":"flaky","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(got["states"], json!({"k":"v"}), "states stay until the timeout");
    let event = alice.next_of("presence").await;
    assert_eq!((event["eventType"].as_str(), event["publisher"].as_str()), (Some("REMOTE_TIMEOUT"), Some("flaky")));
    let waited = vanished.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(3), "{waited:?}");
    let who = alice.ask(json!({"op":"whoNow","channel":"c","channelType":"MESSAGE"})).await.unwrap();
    assert_eq!(who["totalOccupancy"], 1);
    alice.none_of("presence", Duration::from_millis(100)).await; // and no REMOTE_LEAVE after it
}

/// A joiner's SNAPSHOT comes before every presence event of the channel, however busy the
/// channel is: others join and leave while it subscribes again and again, and the view it
/// builds (SNAPSHOT, then events) never sees a user join twice or leave without being there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_presence_event_overtakes_the_joiners_snapshot() {
    let server = server_with(|c| c.connection.frames_per_second = 0).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut churners = Vec::new();
    for i in 0..4 {
        let mut ws = raw_session(&server, &format!("churn{i}")).await;
        let stop = stop.clone();
        churners.push(tokio::spawn(async move {
            let mut id = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for mut frame in [json!({"op":"subscribe","withPresence":false}), json!({"op":"unsubscribe"})] {
                    id += 1;
                    frame["id"] = json!(id);
                    frame["channel"] = json!("c");
                    ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                    while next_json(&mut ws).await["id"] != id {}
                }
            }
        }));
    }
    let mut watcher = raw_session(&server, "watcher").await;
    let mut id = 0u64;
    for _ in 0..400 {
        id += 1;
        let frame = json!({"op":"subscribe","id":id,"channel":"c"});
        watcher.send(Message::Text(frame.to_string().into())).await.unwrap();
        let mut view = BTreeSet::new();
        let mut log = Vec::new();
        let mut answered = false;
        loop {
            let frame = next_json(&mut watcher).await;
            if frame["id"] == id {
                answered = true;
                continue;
            }
            let event = &frame["e"];
            assert_eq!(frame["t"], "presence", "{frame}");
            assert_eq!(
                event["eventType"], "SNAPSHOT",
                "a presence event before the SNAPSHOT (answered: {answered}): {frame}"
            );
            log.push(frame.to_string());
            for user in event["snapshot"].as_array().unwrap() {
                view.insert(user["userId"].as_str().unwrap().to_string());
            }
            break;
        }
        assert!(answered, "the answer comes before the SNAPSHOT");
        id += 1;
        let frame = json!({"op":"unsubscribe","id":id,"channel":"c"});
        watcher.send(Message::Text(frame.to_string().into())).await.unwrap();
        loop {
            let frame = next_json(&mut watcher).await;
            if frame["id"] == id {
                break;
            }
            let event = &frame["e"];
            log.push(frame.to_string());
            let user = event["publisher"].as_str().unwrap().to_string();
            match event["eventType"].as_str().unwrap() {
                "REMOTE_JOIN" => assert!(view.insert(user), "joined twice: {frame}"),
                "REMOTE_LEAVE" => {
                    assert!(view.remove(&user), "left without being there: {frame} view {view:?} log {log:?}")
                }
                other => panic!("unexpected {other}: {frame}"),
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for churner in churners {
        churner.await.unwrap();
    }
}
