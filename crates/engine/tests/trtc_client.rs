//! The TRTC room client without JavaScript (`client::trtc::Trtc`, README.md#rooms-trtc): a Rust
//! program enters, hears who comes, receives custom messages with their gaps, is kicked, sees
//! its room dismissed, and after a reconnect that could not resume hears who left and came
//! while it was away — the callbacks `TRTCCloud` has, as typed events.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::proxy::Proxy;
use common::*;
use piazza_engine::client::room::{CmdRefusal, EnterParams, TrtcEvent};
use piazza_engine::client::trtc::{CmdError, Trtc, TrtcChannelSink};
use piazza_engine::client::{ClientConfig, ClientEvent, CustomMessage, Payload};
use piazza_engine::protocol::{ExitReason, LeaveReason, Role, RoomId, Scene, SessionKind};
use piazza_engine::secret::Secret;
use piazza_engine::server::Server;
use tokio::sync::mpsc::UnboundedReceiver;

const APP: u64 = 1400000001;

/// A `Trtc` handle and the events it reports.
struct Room {
    trtc: Trtc,
    events: UnboundedReceiver<TrtcEvent>,
}

impl Room {
    fn new(template: ClientConfig) -> Room {
        let (sink, events) = TrtcChannelSink::new();
        let trtc = Trtc::new(template, Arc::new(sink), None).expect("a valid configuration");
        Room { trtc, events }
    }

    async fn next(&mut self) -> TrtcEvent {
        tokio::time::timeout(WAIT, self.events.recv()).await.expect("an event in time").expect("open")
    }

    /// The next `n` events.
    async fn take(&mut self, n: usize) -> Vec<TrtcEvent> {
        let mut events = Vec::new();
        for _ in 0..n {
            events.push(self.next().await);
        }
        events
    }

    /// Enters `room` as `user`; checks onEnterRoom(ms > 0).
    async fn enter(&mut self, user: &str, room: u64) {
        self.trtc.enter_room(params(user, room), Scene::VideoCall).unwrap();
        match self.next().await {
            TrtcEvent::EnterRoom { result } => assert!(result >= 1, "entered with {result}"),
            other => panic!("expected onEnterRoom, got {other:?}"),
        }
    }
}

fn params(user: &str, room_id: u64) -> EnterParams {
    let (user_id, user_sig) = (user.to_string(), Secret::new(""));
    EnterParams { sdk_app_id: APP, user_id, user_sig, room_id, str_room_id: String::new(), role: Role::Anchor }
}

fn template(endpoint: &str) -> ClientConfig {
    let mut template = ClientConfig::new("ignored", "ignored", endpoint);
    template.presence_timeout = 0; // the server's rooms.dropTimeoutSeconds
    template
}

/// A plain TRTC session (no room client) as the other member.
async fn member(server: &Server, user: &str, room: u64) -> TestClient {
    let mut config = config(server, &APP.to_string(), user);
    config.kind = SessionKind::Trtc;
    config.presence_timeout = 0;
    let c = login_with(config).await;
    c.client.call(|c, r| c.enter_room(r, RoomId::Num(room), Role::Anchor, Scene::VideoCall)).await.unwrap();
    c
}

fn entered(user: &str) -> TrtcEvent {
    TrtcEvent::RemoteUserEnterRoom { user_id: user.into() }
}

fn left(user: &str, reason: LeaveReason) -> TrtcEvent {
    TrtcEvent::RemoteUserLeaveRoom { user_id: user.into(), reason }
}

fn cmd(seq: u64, text: &str) -> TrtcEvent {
    TrtcEvent::RecvCustomCmdMsg { user_id: "bob".into(), cmd_id: 3, seq, data: Payload::Text(text.into()) }
}

async fn idle(room: &Room) {
    eventually("the handle is idle", || room.trtc.is_idle()).await;
}

#[tokio::test]
async fn enter_members_custom_messages_with_a_gap_kick_and_dismiss() {
    let server = server_with(|c| c.rooms.kick_ban_seconds = 1).await;
    let mut alice = Room::new(template(&server.url()));
    alice.enter("alice", 7).await;
    assert_eq!(alice.trtc.room(), Some((RoomId::Num(7), vec![])));

    let mut bob = member(&server, "bob", 7).await;
    assert_eq!(alice.next().await, entered("bob"));
    assert_eq!(alice.trtc.room(), Some((RoomId::Num(7), vec!["bob".to_string()])));

    // Bob's reliable sequence of cmdId 3 skips 2..=4: onMissCustomCmdMsg(bob, 3, 0, 3) first.
    for (seq, text) in [(1, "first"), (5, "after a gap")] {
        let message = CustomMessage { cmd_id: 3, seq, reliable: true, ordered: true };
        bob.client.send_custom_cmd(message, Payload::Text(text.into())).unwrap();
    }
    assert_eq!(alice.next().await, cmd(1, "first"));
    let missed = TrtcEvent::MissCustomCmdMsg { user_id: "bob".into(), cmd_id: 3, err_code: 0, missed: 3 };
    assert_eq!(alice.take(2).await, [missed, cmd(5, "after a gap")]);

    // Alice's own: numbered per cmdId from 1; refused ones send nothing.
    let refused = alice.trtc.send_custom_cmd(11, Payload::Text("x".into()), true, true);
    assert_eq!(refused, Err(CmdError::Refused(CmdRefusal::CmdId(11))));
    assert_eq!(alice.trtc.send_custom_cmd(2, Payload::Binary(vec![1, 2].into()), false, false), Ok(1));
    let header = loop {
        if let ClientEvent::Cmd { header, payload } = bob.next_event().await {
            assert_eq!(payload, Payload::Binary(vec![1, 2].into()));
            break serde_json::from_str::<serde_json::Value>(header.get()).unwrap();
        }
    };
    assert_eq!(
        (header["userId"].as_str(), header["cmdId"].as_u64(), header["seq"].as_u64()),
        (Some("alice"), Some(2), Some(1))
    );

    // Kicked: onExitRoom(1), out of the room, custom messages refused.
    server.remove_users(&APP.to_string(), &RoomId::Num(7), &["alice".into()]).unwrap();
    assert_eq!(alice.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Removed });
    assert_eq!(alice.trtc.room(), None);
    let refused = alice.trtc.send_custom_cmd(1, Payload::Text("x".into()), true, true);
    assert_eq!(refused, Err(CmdError::Refused(CmdRefusal::NotInRoom)));

    // Dismissed: onExitRoom(2).
    alice.enter("alice", 8).await;
    let _carol = member(&server, "carol", 8).await;
    assert_eq!(alice.next().await, entered("carol"));
    assert_eq!(server.dismiss_room(&APP.to_string(), &RoomId::Num(8)).unwrap().members, 2);
    assert_eq!(alice.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Dismissed });

    // Still logged in (as TRTCCloud stays until destroy); destroy logs out and the handle is idle.
    assert!(!alice.trtc.is_idle());
    alice.trtc.destroy();
    idle(&alice).await;
    assert!(alice.trtc.enter_room(params("alice", 9), Scene::VideoCall).is_err(), "destroyed");
}

#[tokio::test]
async fn calls_run_in_order_entering_elsewhere_exits_first_and_failures_are_trtc_codes() {
    let server = server().await;
    let mut c = Room::new(template(&server.url()));
    let not_in_room = TrtcEvent::SwitchRole { code: -3341, message: "switchRole needs a room".into() };
    // Queued together, answered in call order.
    c.trtc.switch_role(Role::Audience).unwrap();
    c.trtc.enter_room(params("a", 1), Scene::Live).unwrap();
    c.trtc.report(vec![TrtcEvent::SwitchRoom { code: -3316, message: "refused by the caller".into() }]).unwrap();
    c.trtc.switch_role(Role::Audience).unwrap();
    assert_eq!(c.next().await, not_in_room);
    assert!(matches!(c.next().await, TrtcEvent::EnterRoom { result } if result >= 1));
    assert_eq!(c.next().await, TrtcEvent::SwitchRoom { code: -3316, message: "refused by the caller".into() });
    assert_eq!(c.next().await, TrtcEvent::SwitchRole { code: 0, message: String::new() });

    // Another identity: out of this room first, then the old client is logged out.
    c.trtc.enter_room(params("b", 2), Scene::VideoCall).unwrap();
    assert_eq!(c.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Exited });
    assert!(matches!(c.next().await, TrtcEvent::EnterRoom { result } if result >= 1));
    eventually("one session", || server.stats().users == 1).await;

    // A user id the client refuses: ERR_USER_ID_INVALID, and nobody is logged in any more.
    c.trtc.enter_room(params("bad/user", 3), Scene::VideoCall).unwrap();
    assert_eq!(c.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Exited });
    assert!(matches!(c.next().await, TrtcEvent::Error { code: -3319, .. }));
    assert_eq!(c.next().await, TrtcEvent::EnterRoom { result: -3319 });
    idle(&c).await;
    c.trtc.exit_room().unwrap();
    assert_eq!(c.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Exited });
}

#[tokio::test]
async fn a_reconnect_that_cannot_resume_reports_who_left_and_came_meanwhile() {
    let server = server().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let mut template = template(&proxy.url());
    template.presence_timeout = 5;
    template.pong_timeout = Duration::from_millis(500);
    template.reconnect_initial = Duration::from_millis(50);
    template.reconnect_max = Duration::from_millis(300);
    let mut alice = Room::new(template);
    let carol = member(&server, "carol", 4).await;
    alice.enter("alice", 4).await;
    assert_eq!(alice.next().await, entered("carol"));

    proxy.refuse(true);
    proxy.cut();
    assert_eq!(alice.take(2).await, [TrtcEvent::ConnectionLost, TrtcEvent::TryToReconnect]);
    // While alice is away: carol leaves, erin comes, and alice's session times out.
    carol.client.call(|c, r| c.exit_room(r)).await.unwrap();
    let mut erin = member(&server, "erin", 4).await;
    let timed_out = loop {
        if let piazza_engine::protocol::RoomEvent::RemoteLeave { user_id, reason } = erin.next_room().await {
            break (user_id.into_owned(), reason);
        }
    };
    assert_eq!(timed_out, ("alice".to_string(), LeaveReason::TimedOut));
    proxy.refuse(false);

    // Back in a new session: the room is entered again and the difference is reported.
    let back = alice.take(3).await;
    assert_eq!(back, [left("carol", LeaveReason::Left), entered("erin"), TrtcEvent::ConnectionRecovery]);
    assert_eq!(alice.trtc.room(), Some((RoomId::Num(4), vec!["erin".to_string()])));
    assert_eq!(erin.next_room().await, piazza_engine::protocol::RoomEvent::RemoteEnter { user_id: "alice".into() });
}

/// An expiring userSig: warned about (onWarning 9001), renewable (the session stays), and when
/// it lapses unrenewed the room ends as onError(-70001) then onExitRoom(0), never as a removal.
#[tokio::test]
async fn an_expiring_user_sig_warns_renews_and_ends_without_a_removal() {
    use piazza_engine::auth::{generate_token, Privileges};
    use piazza_engine::client::trtc::WARNING_USER_SIG_WILL_EXPIRE;
    use piazza_engine::config::AppConfig;
    const CERT: &str = "app-certificate-0123456789";
    let app = APP.to_string();
    let server = server_with(|c| {
        c.apps = std::collections::HashMap::from([(
            app.clone(),
            AppConfig { certificate: Secret::new(CERT), api_key: None },
        )])
    })
    .await;
    let sig = |user: &str, seconds| generate_token(&app, CERT, user, seconds, Privileges::default()).unwrap();
    let enter = |user: &str, seconds| EnterParams { user_sig: Secret::new(sig(user, seconds)), ..params(user, 8) };
    let warned =
        |event: TrtcEvent| matches!(event, TrtcEvent::Warning { code, .. } if code == WARNING_USER_SIG_WILL_EXPIRE);

    // Renewed on the warning: still in the room after the old userSig's expiry.
    let mut kept = Room::new(template(&server.url()));
    kept.trtc.enter_room(enter("kept", 3), Scene::VideoCall).unwrap();
    let first = kept.take(2).await;
    assert!(first.iter().any(|e| matches!(e, TrtcEvent::EnterRoom { result } if *result >= 1)), "{first:?}");
    assert!(first.into_iter().any(warned));
    kept.trtc.renew_user_sig(&sig("kept", 120)).unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(kept.events.try_recv().is_err(), "no event after a renewal");
    assert_eq!(kept.trtc.room().map(|(room, _)| room), Some(RoomId::Num(8)));
    // A userSig the server refuses is onError(ERR_USER_SIG_INVALID); the session stays.
    kept.trtc.renew_user_sig("not a token").unwrap();
    assert!(matches!(kept.next().await, TrtcEvent::Error { code: -3320, .. }));

    // Not renewed: onError(-70001) then onExitRoom(0); the others hear a plain leave.
    let mut late = Room::new(template(&server.url()));
    late.trtc.enter_room(enter("late", 3), Scene::VideoCall).unwrap();
    let mut events = late.take(3).await;
    events.retain(|e| !matches!(e, TrtcEvent::RemoteUserEnterRoom { .. } | TrtcEvent::EnterRoom { .. }));
    assert!(events.into_iter().any(warned));
    loop {
        match late.next().await {
            TrtcEvent::Error { code, .. } => {
                assert_eq!(code, -70001);
                break;
            }
            other => assert!(matches!(other, TrtcEvent::Warning { .. }), "{other:?}"),
        }
    }
    assert_eq!(late.next().await, TrtcEvent::ExitRoom { reason: ExitReason::Exited });
    loop {
        if let TrtcEvent::RemoteUserLeaveRoom { user_id, reason } = kept.next().await {
            assert_eq!((user_id.as_str(), reason), ("late", LeaveReason::Left));
            break;
        }
    }
}
