//! The sans-IO core: every decision, no browser types.
//!
//! It is given the time and what happened and returns what to do; the browser shell
//! (`crate::browser`) performs it. Everything here runs and is tested natively.

pub mod ascii;
pub mod attach;
pub mod config;
pub mod coordination;
pub mod dpop;
pub mod error;
pub mod events;
pub mod float;
pub mod form;
pub mod grant;
pub mod json;
pub mod jwt;
pub mod limits;
pub mod oidc;
pub mod policy;
pub mod provider;
pub mod record;
pub mod refreshed_id_token;
pub mod session;
pub mod signout;
pub mod tab_message;
pub mod tokens;
pub mod utf8;

pub use error::{Error, ErrorCode};
pub use session::{Action, Event, EventKind, Reason, Session, Status};
pub use tokens::{TokenResponse, TokenSet};
