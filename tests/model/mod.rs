//! A reference model of canopy's cancellation contract (DESIGN §2), for the
//! property tests: `program` is the little language, `interp` the executor
//! on a virtual clock, `rules` and `groups` the rules (each naming the §
//! it implements), `real` runs the same program on canopy.

#![allow(dead_code)] // each suite uses a part

pub mod program;

mod groups;
mod interp;
mod rules;

pub mod real;

pub use interp::run;
pub use program::*;
