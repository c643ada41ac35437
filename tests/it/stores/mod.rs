//! The durable stores: the conformance suite against SQLite and PostgreSQL, what only a
//! database shows (files, migrations, connection strings), and the crash tests.

#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod crash;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "postgres")]
mod pg_crash;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
