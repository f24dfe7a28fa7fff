//! The broker: how a published frame reaches every node that has members for it.
//!
//! The hub encodes a frame once and hands it to [`Broker::publish`]; the broker delivers it to
//! the [`DeliveryHandler`] of every node that subscribed to its route — in memory that is just
//! this node's hub, called at once; with Redis (cluster mode) it crosses Redis pub/sub first.
//! Either way the node receives its deliveries through the same handler, so one node and a
//! cluster share one delivery path. Which local members get the frame is decided on the
//! receiving node from `audience` and `skip`: subscriptions are local knowledge.

mod memory;

use std::sync::Arc;

use tokio_tungstenite::tungstenite::Message;

pub use memory::MemoryBroker;

/// Where a frame goes: the unit a node subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// A message channel.
    Channel { app: Arc<str>, channel: Arc<str> },
    /// A stream channel.
    Stream { app: Arc<str>, channel: Arc<str> },
    /// The RTM session of one user.
    User { app: Arc<str>, user: Arc<str> },
    /// A TRTC room.
    Room { app: Arc<str>, room: crate::protocol::RoomId },
    /// A realtime-channel scope.
    Realtime { app: Arc<str>, scope: Arc<str> },
    /// The subscribers of one user's metadata (`subscribeUserMetadata`).
    UserMeta { app: Arc<str>, user: Arc<str> },
}

/// Which members of the route's channel get the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Members that subscribed `withMessage`.
    Messages,
    /// Members that subscribed `withMessage`: a message of a channel's recovery log (cluster
    /// mode with recovery), with its offset. A member still recovering only notes the offset
    /// (its recovery reads the log up to it); one that recovered skips what it was replayed.
    Logged { offset: u64 },
    /// Members that asked for presence events. `change` is the version of the local roster
    /// change the event is about: a member whose SNAPSHOT was taken at or after it already
    /// has it. `None` (another node's change, an INTERVAL, an outage) goes to every member
    /// whose SNAPSHOT was sent.
    Presence { change: Option<u64> },
    /// Members that asked `withMetadata` (storage events).
    Metadata,
    /// Members that asked `withLock` (lock events).
    Locks,
    /// Every member (topic events, realtime data, user-channel messages, room events).
    Everyone,
    /// Every member, best effort: dropped (and counted) for congested receivers.
    BestEffort,
    /// Members subscribed to `publisher` in `topic` (stream-channel topic messages).
    TopicSubscribers { topic: Arc<str>, publisher: Arc<str> },
}

/// A frame on its way to members: encoded once, shared by all.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub route: Route,
    pub audience: Audience,
    /// A user who must not receive it (the subject of a presence event, a realtime sender).
    pub skip: Option<Arc<str>>,
    pub frame: Message,
}

/// What a node does with a delivery: push it into its local sessions' outboxes.
pub trait DeliveryHandler: Send + Sync {
    fn deliver(&self, delivery: &Delivery);
}

/// Fan-out between nodes.
pub trait Broker: Send + Sync {
    /// Registers the node's handler (called once, before any publish).
    fn set_handler(&self, handler: std::sync::Weak<dyn DeliveryHandler>);
    /// Sends a frame to every node subscribed to its route, this one included.
    fn publish(&self, delivery: Delivery);
    /// This node has its first local member for `route`.
    fn subscribe(&self, route: &Route);
    /// This node has no local member left for `route`.
    fn unsubscribe(&self, route: &Route);
}

/// The lifecycle of a group (a channel, stream channel, user, room or realtime scope) on this
/// node: the node subscribes to the group's route with its first local member and unsubscribes
/// with its last. Call these with the lock that guards the group's local members held, so that
/// the broker sees subscribes and unsubscribes in the order the membership changed.
impl dyn Broker + '_ {
    /// Runs `add`, which adds a local member and returns its result with whether the group had no
    /// local member before; if so, subscribes to the group's route.
    pub fn join_group<T>(&self, route: impl FnOnce() -> Route, add: impl FnOnce() -> (T, bool)) -> T {
        let (result, first) = add();
        if first {
            self.subscribe(&route());
        }
        result
    }

    /// Runs `remove`, which takes the group out of this node's groups once its last local member
    /// has left and returns it (`None` while members remain); if it did, unsubscribes from the
    /// group's route.
    pub fn leave_group<G>(&self, route: impl FnOnce() -> Route, remove: impl FnOnce() -> Option<G>) -> Option<G> {
        let removed = remove();
        if removed.is_some() {
            self.unsubscribe(&route());
        }
        removed
    }
}
