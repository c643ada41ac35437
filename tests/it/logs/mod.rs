//! The operator logs API: routes and statuses, tenant isolation, and the example server end
//! to end on loopback.

mod fixture;
mod isolation;
mod lifecycle;
mod live;
mod routes;
mod server;
