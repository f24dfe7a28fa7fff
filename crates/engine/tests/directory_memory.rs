//! What the directory mirror costs per user of another node, counted by the allocator: each
//! node of a cluster mirrors every other node's users, so at 100,000 users on six nodes a node
//! holds 83,000 of them, and this cost is most of its memory per connection (docs/SCALING.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use piazza_engine::cluster::{Entry, Mirror};
use piazza_engine::protocol::{ChannelType, SessionKind};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The entries of one user of the scale benchmark: online, visible in `all` and in a presence
/// channel of ten members.
fn user_entries(i: usize) -> [Entry; 3] {
    let app = "bench".to_string();
    let user = format!("u{i}");
    let member = |channel: String| Entry::Member {
        app: app.clone(),
        ct: ChannelType::Message,
        channel,
        user: user.clone(),
        states: Default::default(),
        timeout: 30,
    };
    [
        Entry::Online { app: app.clone(), kind: SessionKind::Rtm, user: user.clone(), session: i as u64, timeout: 30 },
        member("all".into()),
        member(format!("c{}", i % 10_000)),
    ]
}

#[test]
fn a_mirrored_user_costs_at_most_a_few_hundred_bytes() {
    const USERS: usize = 83_000;
    const NODES: usize = 5;
    let before = LIVE.load(Ordering::Relaxed);
    let mut mirror = Mirror::default();
    for i in 0..USERS {
        let node = format!("node-{}", i % NODES);
        for entry in user_entries(i) {
            mirror.insert(&node, entry);
        }
    }
    let per_user = (LIVE.load(Ordering::Relaxed) - before) as f64 / USERS as f64;
    println!("mirror: {per_user:.0} bytes per user (3 entries)");
    assert_eq!(mirror.member_count("bench", ChannelType::Message, "all"), USERS);
    assert_eq!(mirror.online("bench", SessionKind::Rtm, "u7"), ["node-2"]);
    assert!(per_user <= 350.0, "{per_user:.0} bytes per mirrored user");

    // Everything is given back when the nodes go, every entry returned once.
    let mut returned = 0;
    for n in 0..NODES {
        returned += mirror.drop_node(&format!("node-{n}")).len();
    }
    assert_eq!(returned, USERS * 3);
    let left = LIVE.load(Ordering::Relaxed) - before;
    assert!(left < 64 * 1024, "{left} bytes left after every node was dropped");
}
