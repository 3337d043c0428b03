//! What every HTTP façade shares, before and around any protocol: the application state
//! ([`state`]), the absolute base of links ([`base_url`]), which proxies are trusted to say
//! who the client is and where it connected ([`proxies`]), which browser origins may call
//! the server ([`cors`]), how errors look when no façade shaped them ([`errors`]), and the
//! assembled server ([`router`]: the façades' routes under the shared layers).
//!
//! Dependencies point inwards: `api` and `wps` use this module; of this module only
//! `router` knows them.

pub mod base_url;
pub mod cors;
mod errors;
pub mod proxies;
mod router;
mod state;

pub use base_url::BaseUrl;
pub use router::router;
pub(crate) use state::AppState;
pub use state::{HttpState, ServerSettings};
