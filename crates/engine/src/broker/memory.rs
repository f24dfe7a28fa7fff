//! The single-node broker: a publish is delivered to this node's handler immediately, on the
//! publisher's task, so per-publisher order is the order of the publisher's frames.

use std::sync::{OnceLock, Weak};

use super::{Broker, Delivery, DeliveryHandler, Route};

#[derive(Default)]
pub struct MemoryBroker {
    handler: OnceLock<Weak<dyn DeliveryHandler>>,
}

impl MemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Broker for MemoryBroker {
    fn set_handler(&self, handler: Weak<dyn DeliveryHandler>) {
        let _ = self.handler.set(handler);
    }

    fn publish(&self, delivery: Delivery) {
        if let Some(handler) = self.handler.get().and_then(Weak::upgrade) {
            handler.deliver(&delivery);
        }
    }

    fn subscribe(&self, _route: &Route) {}

    fn unsubscribe(&self, _route: &Route) {}
}
