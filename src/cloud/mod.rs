//! Cloud API clients: the "poll" end of the data flow.
//!
//! Each cloud has its own module with a signer (a pure function of the request, the
//! credentials and the time), an HTTP client (reqwest; knows signing, limits and error
//! bodies) and one module per API family with its request and response types. A client
//! knows nothing about metrics series or the HTTP server. Where a target's keys come
//! from is [`credentials`]: written keys, or temporary keys from one of each cloud's
//! `identity` sources, refreshed before they expire.

pub mod alibaba;
pub mod credentials;
pub mod http;
pub mod huawei;
pub mod identity;
pub mod quota;
pub mod retry;
pub mod signing;
