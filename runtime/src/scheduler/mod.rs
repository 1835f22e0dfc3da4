//! The scheduler: the workers' loop and queues (`worker.rs`), the idle
//! protocol that wakes them (`idle.rs`, `park.rs`), the stealable LIFO slot
//! (`lifo_slot.rs`), and the monitor that notices workers stuck in one poll
//! (`monitor.rs`).

pub(crate) mod idle;
pub(crate) mod lifo_slot;
pub(crate) mod monitor;
pub(crate) mod park;
pub(crate) mod worker;
