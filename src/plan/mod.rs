//! From CSV rows to one decision per row (SPEC §3 steps 1–5): recipients
//! (their numbers checked by `crate::phone`), rendering, the window, the per-row plan, the
//! decision (schedule, route, daily cap) the send loop asks again as each request leaves, and the
//! stream that plans rows on every core and hands them back in order.

pub mod decide;
pub mod lint;
pub mod recipients;
pub mod render;
pub mod row;
pub mod stream;
pub mod template_check;
pub mod window;
