//! HTTP handlers, one module per function (named as the function). Each takes the shared state and a decoded
//! request and answers a response or an [`ApiError`](crate::ApiError).

pub mod account;
pub mod bulk;
pub mod confirm;
pub mod delete;
pub mod delete_account;
pub mod deleted;
pub mod history;
pub mod keys;
pub mod login;
pub mod logout;
pub mod migration;
pub mod packs;
pub mod pull;
pub mod push;
pub mod refresh;
pub mod register;
pub mod remove_device;
pub mod restore;
pub mod sealed;
pub mod state;
pub mod write;
