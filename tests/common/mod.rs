//! What every test crate shares: how long to wait before calling something a hang. The proxy's
//! test kit (`tests/proxy/kit`) takes it from here, and so does `demo_server.rs`.

use std::time::Duration;

/// Long enough for anything on a loaded 2-core machine; short enough that a hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(10);
