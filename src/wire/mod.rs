//! What crosses the wire: Connectly's request bodies and WhatsApp's limits
//! on them, the `message` shape, and the HTTP client that classifies every
//! answer once.

pub mod body;
pub mod catalogue;
pub mod client;
pub mod message;
