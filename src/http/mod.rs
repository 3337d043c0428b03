//! What every HTTP façade shares about the request itself, before any protocol: which
//! proxies are trusted to say who the client is and where it connected ([`proxies`]), and
//! which browser origins may call the server ([`cors`]).

pub mod cors;
pub mod proxies;
