//! The program's side: `Config` and the environment, and the lifecycle (start-up, exit, fork).

#[cfg(all(feature = "serde", target_os = "linux"))]
pub(crate) mod autostart;
pub(crate) mod config;
pub(crate) mod exit_hook;
