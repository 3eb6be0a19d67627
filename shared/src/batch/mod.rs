//! Batches: every object under a bucket prefix through a list of actions, as IMM's
//! `CreateBatch` and its siblings. A scanner lists the prefix a page at a time and queues
//! an item per object; items are converted side by side and counted once each; a check
//! ends the run once every submitted item is counted.

pub mod actions;
pub mod announce;
pub mod handlers;
pub mod limits;
pub mod matching;
pub mod model;
pub mod runs;
pub mod worker;
