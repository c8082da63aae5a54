//! What a pair remembers of its way to the destination: the destinations it tried, in order, and
//! its place among the live pairs of the one that answered.
//!
//! The closing line names the destination used and those that failed before it; the place is
//! given back when the route is dropped, with the pair, however the pair ended. A pair that
//! reached its first choice allocates nothing here. Nothing here blocks.

use std::sync::Arc;

use crate::relay::upstream::destination::Destination;

/// A pair's way to the destination.
#[derive(Debug, Default)]
pub struct Route {
    /// The last destination tried: the one connected to, if any answered.
    last: Option<usize>,
    /// Those tried before it, each of which failed.
    failed_over: Vec<usize>,
    /// Connected: the destination's count of live pairs holds this pair.
    live_at: Option<LiveAt>,
}

impl Route {
    /// The pair tries the destination at `index` next.
    pub fn attempt(&mut self, index: usize) {
        if let Some(before) = self.last.replace(index) {
            self.failed_over.push(before);
        }
    }

    /// The last attempt answered: the pair counts as live at `destination` until dropped.
    pub fn connected(&mut self, live_at: LiveAt) {
        self.live_at = Some(live_at);
    }

    /// The destination used (or, if none answered, the last one tried), by index.
    pub fn last(&self) -> Option<usize> {
        self.last
    }

    /// The destinations that failed before [`Route::last`], by index, in the order tried.
    pub fn failed_over(&self) -> &[usize] {
        &self.failed_over
    }
}

/// One place in a destination's count of live pairs, taken when a pair is sent there and given
/// back when dropped.
#[derive(Debug)]
pub struct LiveAt(Arc<Destination>);

impl LiveAt {
    pub fn new(destination: &Arc<Destination>) -> LiveAt {
        destination.arrived();
        LiveAt(Arc::clone(destination))
    }
}

impl Drop for LiveAt {
    fn drop(&mut self) {
        self.0.left();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::upstream::health::HealthRule;
    use crate::relay::upstream::name::Name;
    use std::time::Duration;

    #[test]
    fn the_route_names_the_last_try_and_those_before_it_and_gives_its_place_back() {
        let rule = HealthRule {
            max_fails: 1,
            fail_timeout: Duration::from_secs(1),
            checked: false,
        };
        let name = Name {
            host: "127.0.0.1".into(),
            port: 1,
        };
        let list = vec!["127.0.0.1:1".parse().unwrap()];
        let d = Arc::new(Destination::from_addresses(name, list, rule, false).unwrap());
        let mut route = Route::default();
        assert_eq!((route.last(), route.failed_over()), (None, &[][..]));
        route.attempt(2);
        route.attempt(0);
        route.connected(LiveAt::new(&d));
        assert_eq!((route.last(), route.failed_over()), (Some(0), &[2][..]));
        assert_eq!(d.live(), 1);
        drop(route);
        assert_eq!(d.live(), 0);
    }
}
