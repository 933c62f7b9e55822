//! Deployable objects: the checked plan as canonical, hashed objects, and
//! their diff against what the state holds.

pub mod diff;
pub mod ir;
