//! From CSV rows to one decision per row (SPEC §3 steps 1–5): recipients
//! and phones, rendering, the window, the per-row plan, and the stream
//! that plans rows on every core and hands them back in order.

pub mod numbering;
pub mod phone;
pub mod recipients;
pub mod render;
pub mod row;
pub mod stream;
pub mod template_check;
pub mod window;
