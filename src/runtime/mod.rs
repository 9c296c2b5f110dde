//! The program's side: `Config` and the environment, and the lifecycle (start-up, exit, fork).

pub(crate) mod config;
pub(crate) mod lifecycle;
