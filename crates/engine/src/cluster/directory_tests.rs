//! Tests of the directory mirror (cluster/directory.rs).

use super::*;

fn member(user: &str, channel: &str) -> Entry {
    Entry::Member {
        app: "a".into(),
        ct: ChannelType::Message,
        channel: channel.into(),
        user: user.into(),
        states: States::new(),
        timeout: 5,
    }
}

#[test]
fn entries_are_indexed_and_unindexed() {
    let mut mirror = Mirror::default();
    mirror.insert("n1", member("u1", "c"));
    mirror.insert("n2", member("u2", "c"));
    mirror.insert("n1", member("u1", "d"));
    assert_eq!(mirror.members("a", ChannelType::Message, "c").len(), 2);
    assert_eq!(mirror.user_channels("a", "u1").len(), 2);
    let key = member("u1", "c").key();
    assert!(mirror.remove("n1", &key).is_some());
    assert_eq!(mirror.members("a", ChannelType::Message, "c").keys().collect::<Vec<_>>(), ["u2"]);
    assert_eq!(mirror.drop_node("n2").len(), 1);
    assert!(mirror.members("a", ChannelType::Message, "c").is_empty());
    assert_eq!(mirror.user_channels("a", "u1"), vec![(ChannelType::Message, "d".to_string())]);
}

#[test]
fn removals_by_key_give_back_the_whole_entry() {
    let mut mirror = Mirror::default();
    let states: States = [("mood".to_string(), "ok".to_string())].into();
    let with_states = Entry::Member {
        app: "a".into(),
        ct: ChannelType::Stream,
        channel: "s".into(),
        user: "u:1".into(),
        states: states.clone(),
        timeout: 7,
    };
    let online =
        Entry::Online { app: "a".into(), kind: SessionKind::Trtc, user: "u:1".into(), session: 42, timeout: 9 };
    let ban = Entry::Ban { app: "a".into(), room: RoomId::Num(5), user: "u:1".into(), until_ms: 1 };
    for entry in [&with_states, &online, &ban] {
        mirror.insert("n1", entry.clone());
    }
    assert_eq!(mirror.member_states("a", ChannelType::Stream, "s", "u:1"), Some(states));
    assert_eq!(mirror.online("a", SessionKind::Trtc, "u:1"), ["n1"]);
    assert!(mirror.online("a", SessionKind::Rtm, "u:1").is_empty());
    let mut all = mirror.entries_of("n1");
    all.sort_by_key(Entry::key);
    let mut expected = vec![with_states.clone(), online.clone(), ban.clone()];
    expected.sort_by_key(Entry::key);
    assert_eq!(all, expected);
    // Another node's key removes nothing; the owner's gives the entry back as it was.
    assert_eq!(mirror.remove("n2", &online.key()), None);
    assert_eq!(mirror.remove("n1", &online.key()), Some(online));
    assert_eq!(mirror.remove("n1", &with_states.key()), Some(with_states));
    assert_eq!(mirror.remove("n1", &ban.key()), Some(ban));
    assert!(mirror.entries_of("n1").is_empty());
    assert!(mirror.user_channels("a", "u:1").is_empty());
    assert_eq!(mirror.remove("n1", r#"["member","a"]"#), None);
}

#[test]
fn a_user_held_by_two_nodes_stays_until_both_let_go() {
    let mut mirror = Mirror::default();
    mirror.insert("n1", member("u", "c"));
    mirror.insert("n2", member("u", "c"));
    assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u").as_deref(), Some("n2"));
    assert_eq!(mirror.member_count("a", ChannelType::Message, "c"), 1);
    assert_eq!(mirror.drop_node("n2").len(), 1);
    assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u").as_deref(), Some("n1"));
    assert_eq!(mirror.user_channels("a", "u"), vec![(ChannelType::Message, "c".to_string())]);
    // Inserting the same entry again replaces it rather than adding a holder.
    mirror.insert("n1", member("u", "c"));
    assert_eq!(mirror.remove("n1", &member("u", "c").key()).map(|e| e.key()), Some(member("u", "c").key()));
    assert!(mirror.members("a", ChannelType::Message, "c").is_empty());
    assert!(mirror.user_channels("a", "u").is_empty());
    mirror.drop_node("n1");
    assert!(mirror.names.set.is_empty());
}

#[test]
fn every_kind_of_key_is_read_back() {
    let mut mirror = Mirror::default();
    let odd = "u \"quoted\" \\ ü 🙂";
    let mut entries = Vec::new();
    for kind in [SessionKind::Rtm, SessionKind::Trtc] {
        entries.push(Entry::Online { app: "a".into(), kind, user: odd.into(), session: u64::MAX, timeout: 1 });
    }
    for ct in [ChannelType::Message, ChannelType::Stream, ChannelType::User] {
        entries.push(Entry::Member {
            app: "a".into(),
            ct,
            channel: odd.into(),
            user: odd.into(),
            states: States::new(),
            timeout: 1,
        });
    }
    for entry in &entries {
        mirror.insert("n1", entry.clone());
    }
    for entry in entries {
        assert_eq!(mirror.remove("n1", &entry.key()), Some(entry));
    }
    assert!(mirror.nodes.slots.iter().all(Option::is_none) && mirror.users.is_empty() && mirror.members.is_empty());
}

#[test]
fn the_latest_write_answers_and_any_other_holder_counts() {
    let mut mirror = Mirror::default();
    let with = |mood: &str| Entry::Member {
        app: "a".into(),
        ct: ChannelType::Message,
        channel: "c".into(),
        user: "u".into(),
        states: [("mood".to_string(), mood.to_string())].into(),
        timeout: 5,
    };
    mirror.insert("n1", with("old"));
    mirror.insert("n2", with("moved"));
    mirror.insert("n1", with("new"));
    let states = mirror.member_states("a", ChannelType::Message, "c", "u").unwrap();
    assert_eq!(states["mood"], "new");
    assert!(mirror.member_held_elsewhere("a", ChannelType::Message, "c", "u", "n1"));
    mirror.drop_node("n2");
    assert!(!mirror.member_held_elsewhere("a", ChannelType::Message, "c", "u", "n1"));
    assert!(!mirror.member_held_elsewhere("a", ChannelType::Message, "d", "u", "n9"));
}

#[test]
fn names_of_removed_entries_do_not_pile_up() {
    let mut mirror = Mirror::default();
    for i in 0..20_000 {
        let (user, channel) = (format!("u{i}"), format!("private-{i}"));
        let entry = member(&user, &channel);
        mirror.insert("n1", entry.clone());
        mirror.insert("n1", Entry::Online { app: "a".into(), kind: SessionKind::Rtm, user, session: 1, timeout: 1 });
        mirror.remove("n1", &entry.key());
    }
    // 20,000 users online, their 20,000 private channels gone.
    let in_use = 20_000 + 2;
    assert!(mirror.names.set.len() <= in_use * 3 / 2 + 2048, "{} names kept", mirror.names.set.len());
}

#[test]
fn keys_cannot_collide_across_separators() {
    let a = member("b:c", "a").key();
    let b = member("c", "a:b").key();
    assert_ne!(a, b);
    let num = Entry::Ban { app: "a".into(), room: RoomId::Num(5), user: "u".into(), until_ms: 1 };
    let text = Entry::Ban { app: "a".into(), room: RoomId::Str("5".into()), user: "u".into(), until_ms: 1 };
    assert_ne!(num.key(), text.key());
}

#[test]
fn a_gone_node_gives_its_place_to_the_next_one() {
    let mut mirror = Mirror::default();
    let online = |user: &str| Entry::Online {
        app: "a".into(),
        kind: SessionKind::Rtm,
        user: user.into(),
        session: 1,
        timeout: 1,
    };
    mirror.insert("n1", member("u1", "c"));
    mirror.insert("n2", member("u2", "c"));
    mirror.insert("n2", online("u2"));
    // n1's last entry goes: its place is free, and n3 takes it without taking n2's entries.
    assert!(mirror.remove("n1", &member("u1", "c").key()).is_some());
    mirror.insert("n3", member("u3", "c"));
    mirror.insert("n3", online("u2"));
    assert_eq!(mirror.nodes.slots.len(), 2, "the free place was taken again");
    assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u3").as_deref(), Some("n3"));
    assert_eq!(mirror.member_node("a", ChannelType::Message, "c", "u2").as_deref(), Some("n2"));
    let mut nodes = mirror.online("a", SessionKind::Rtm, "u2");
    nodes.sort();
    assert_eq!(nodes, ["n2", "n3"]);
    assert_eq!(mirror.entries_of("n2").len(), 2);
    assert!(mirror.entries_of("n1").is_empty());
    // Dropping n2 leaves n3's entries whole.
    assert_eq!(mirror.drop_node("n2").len(), 2);
    assert_eq!(mirror.online("a", SessionKind::Rtm, "u2"), ["n3"]);
    assert_eq!(mirror.user_channels("a", "u3"), vec![(ChannelType::Message, "c".to_string())]);
    assert!(mirror.user_channels("a", "u2").is_empty());
    assert_eq!(mirror.entries_of("n3").len(), 2);
}
