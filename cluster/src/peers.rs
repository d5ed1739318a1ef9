//! What a node knows of the others: whether each is up, the session the
//! two talk in, and the place of each signal in it. Pure bookkeeping, no
//! I/O: each event returns the [`Action`]s it calls for.
//!
//! The rules, which keep Erlang's promise that signals between two
//! processes arrive in order or the connection is declared down:
//! - Signals from one node to another are numbered within a session; a
//!   gap (a signal lost on the way) is a verdict: the sender is down.
//! - A verdict (a gap, or silence past the bound) fires the links and
//!   monitors on the other node's processes (`noconnection`), starts a new
//!   session, and tells the other node (`Disconnect`), which then does the
//!   same for its side. Signals of an older session are dropped, so
//!   nothing sent before the verdict is delivered after it.
//! - A node gives no verdict on silence while it does not hear its own
//!   heartbeats: then the fault is its own connection, not the others'.
//!   When it hears itself again, the others get a grace period on top of
//!   the bound: they were cut off too (a NATS server restarting cuts off
//!   every node) and may reconnect a little later.
//! - A node that finds it stood still longer than the bound (its process
//!   stopped, say `SIGSTOP`) takes the others to have declared it down: it
//!   ends every session itself, before it acts on any frame that waited
//!   meanwhile, so nothing sent to it before their verdict lands after it.

use crate::wire::Announced;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use vm_kernel::remote::PluginNeed;

/// The most plugins a node's announcement is kept with.
const MAX_ANNOUNCED: usize = 256;

/// The longest plugin name an announcement is kept with.
const MAX_PLUGIN_NAME: usize = 128;

/// What an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fire the links and monitors on node `0`'s processes.
    NodeDown(u16),
    /// Tell `node` that it was declared down and talks in `session` now.
    Disconnect {
        /// The node told.
        node: u16,
        /// The new session.
        session: u64,
    },
}

/// Why a signal cannot be sent to a node now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Declared down: its processes answer `noconnection`.
    Down,
    /// It left the cluster: its processes are gone (`noproc`).
    Left,
}

#[derive(Debug)]
struct Peer {
    name: Option<String>,
    /// The plugins its heartbeat announces.
    plugins: Vec<Announced>,
    state: State,
    session: u64,
    /// The next signal's number, each way.
    next_in: u64,
    next_out: u64,
    last_heard: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down,
    Left,
}

impl Peer {
    fn new(now: Instant) -> Peer {
        Peer {
            name: None,
            plugins: Vec::new(),
            state: State::Up,
            session: 0,
            next_in: 0,
            next_out: 0,
            last_heard: now,
        }
    }

    /// Starts session `session` with the counts at 0.
    fn restart(&mut self, session: u64) {
        self.session = session;
        self.next_in = 0;
        self.next_out = 0;
    }
}

/// The other nodes, as this one sees them.
#[derive(Debug)]
pub struct Peers {
    me: u16,
    peers: HashMap<u16, Peer>,
    /// When this node last heard its own heartbeat.
    own_heartbeat: Option<Instant>,
    /// Silence for this long is a verdict.
    bound: Duration,
    /// What the others get on top of the bound once this node hears
    /// itself again after being cut off.
    grace: Duration,
    /// Whether this node was cut off at its last check.
    cut_off: bool,
    /// When this node last showed it was running (a heartbeat tick, a
    /// frame handled).
    last_alive: Option<Instant>,
    /// When this view began.
    started: Instant,
}

impl Peers {
    /// Node `me`'s view, declaring a peer down after `bound` of silence,
    /// or `bound` and `grace` after this node was cut off.
    pub fn new(me: u16, bound: Duration, grace: Duration) -> Peers {
        Peers {
            me,
            peers: HashMap::new(),
            own_heartbeat: None,
            bound,
            grace,
            cut_off: false,
            last_alive: None,
            started: Instant::now(),
        }
    }

    /// The session a signal to `node` posted now belongs to. A node never
    /// heard of is taken to be up (its heartbeat may not have come yet);
    /// if it is not, silence declares it down.
    pub fn stamp(&mut self, node: u16, now: Instant) -> Result<u64, Unreachable> {
        let peer = self.peers.entry(node).or_insert_with(|| Peer::new(now));
        match peer.state {
            State::Up => Ok(peer.session),
            State::Down => Err(Unreachable::Down),
            State::Left => Err(Unreachable::Left),
        }
    }

    /// The number of a signal stamped with `session` that is sent now, or
    /// why it cannot be: a verdict since it was posted ended its session.
    pub fn sequence(&mut self, node: u16, session: u64) -> Result<u64, Unreachable> {
        let Some(peer) = self.peers.get_mut(&node) else {
            return Err(Unreachable::Down);
        };
        match peer.state {
            State::Up if peer.session == session => {
                peer.next_out += 1;
                Ok(peer.next_out - 1)
            }
            State::Left => Err(Unreachable::Left),
            _ => Err(Unreachable::Down),
        }
    }

    /// A heartbeat from `node`.
    pub fn heartbeat(&mut self, node: u16, name: &str, now: Instant) -> Vec<Action> {
        if node == self.me {
            self.own_heartbeat = Some(now);
            return Vec::new();
        }
        let peer = self.peers.entry(node).or_insert_with(|| Peer::new(now));
        peer.last_heard = now;
        if peer.name.is_none() {
            peer.name = Some(name.to_owned());
        }
        match peer.state {
            // Back after a verdict: the new session starts, and it hears
            // why its old one ended.
            State::Down => {
                peer.state = State::Up;
                vec![Action::Disconnect {
                    node,
                    session: peer.session,
                }]
            }
            _ => Vec::new(),
        }
    }

    /// The plugins `node` announces in its heartbeats (after
    /// [`Peers::heartbeat`], which makes it known).
    pub fn announce(&mut self, node: u16, plugins: Vec<Announced>) {
        // Bounded: a list longer, or a name longer, than any node's is
        // not kept (the previous one stands).
        if plugins.len() > MAX_ANNOUNCED || plugins.iter().any(|p| p.name.len() > MAX_PLUGIN_NAME) {
            return;
        }
        if let Some(peer) = self.peers.get_mut(&node) {
            if peer.plugins != plugins {
                peer.plugins = plugins;
            }
        }
    }

    /// The name of `node` and the plugins it announces, if it is up and
    /// has said them.
    pub fn offers(&self, node: u16) -> Option<(&str, &[Announced])> {
        let peer = self.peers.get(&node).filter(|p| p.state == State::Up)?;
        Some((peer.name.as_deref()?, &peer.plugins))
    }

    /// The names of the nodes up that offer a plugin that meets `need`.
    pub fn offering(&self, need: &PluginNeed) -> Vec<String> {
        let mut names: Vec<String> = self
            .peers
            .values()
            .filter(|p| p.state == State::Up)
            .filter(|p| p.plugins.iter().any(|a| need.met_by(&a.name, a.version)))
            .filter_map(|p| p.name.clone())
            .collect();
        names.sort();
        names
    }

    /// A signal from `node` numbered `seq` in `session`: whether to act on
    /// it, and what else to do.
    pub fn signal(
        &mut self,
        node: u16,
        session: u64,
        seq: u64,
        now: Instant,
    ) -> (bool, Vec<Action>) {
        let peer = self.peers.entry(node).or_insert_with(|| Peer::new(now));
        peer.last_heard = now;
        match peer.state {
            State::Left => return (false, Vec::new()),
            // Of the session the verdict started: it heard of the verdict
            // (its heartbeat may come later, on another subject).
            State::Down if session == peer.session => peer.state = State::Up,
            // Sent before it heard of the verdict: dropped; it hears of it
            // (again) when its heartbeat comes.
            State::Down => return (false, Vec::new()),
            State::Up => {}
        }
        if session < peer.session {
            let again = Action::Disconnect {
                node,
                session: peer.session,
            };
            return (false, vec![again]);
        }
        let mut actions = Vec::new();
        if session > peer.session {
            // It declared this node down and the word has not come yet (it
            // comes first, so only a lost one gets here): the same verdict.
            actions.push(Action::NodeDown(node));
            peer.restart(session);
        }
        if seq != peer.next_in {
            actions.extend(self.verdict(node));
            return (false, actions);
        }
        peer.next_in += 1;
        (true, actions)
    }

    /// `node` says it sent `count` signals in `session`: fewer arrived
    /// (they come before this word, on the same subject) is a verdict.
    pub fn sent(&mut self, node: u16, session: u64, count: u64, now: Instant) -> Vec<Action> {
        let Some(peer) = self.peers.get_mut(&node) else {
            return Vec::new();
        };
        peer.last_heard = now;
        if peer.state == State::Left {
            return Vec::new();
        }
        if session < peer.session {
            // It has not heard of a verdict (the word was lost): again.
            return vec![Action::Disconnect {
                node,
                session: peer.session,
            }];
        }
        if session > peer.session {
            return Vec::new();
        }
        if peer.state == State::Down {
            peer.state = State::Up;
        }
        if count == peer.next_in {
            return Vec::new();
        }
        self.verdict(node)
    }

    /// For each node that is up, the session and how many signals this
    /// node sent it in it so far.
    pub fn counts(&self) -> Vec<(u16, u64, u64)> {
        self.peers
            .iter()
            .filter(|(_, p)| p.state == State::Up)
            .map(|(&n, p)| (n, p.session, p.next_out))
            .collect()
    }

    /// `node` declared this one down and talks in `session` now.
    pub fn disconnect(&mut self, node: u16, session: u64, now: Instant) -> Vec<Action> {
        let peer = self.peers.entry(node).or_insert_with(|| Peer::new(now));
        peer.last_heard = now;
        if peer.state == State::Left || session <= peer.session {
            return Vec::new();
        }
        let was_up = peer.state == State::Up;
        peer.restart(session);
        peer.state = State::Up;
        if was_up {
            vec![Action::NodeDown(node)]
        } else {
            Vec::new()
        }
    }

    /// `node` left the cluster.
    pub fn bye(&mut self, node: u16, now: Instant) -> Vec<Action> {
        let peer = self.peers.entry(node).or_insert_with(|| Peer::new(now));
        let was = std::mem::replace(&mut peer.state, State::Left);
        if was == State::Up {
            vec![Action::NodeDown(node)]
        } else {
            Vec::new()
        }
    }

    /// Notes that this node runs at `now`; if it stood still longer than
    /// the bound since it last did, it ends every session: the others have
    /// declared it down, or will, and what they sent before must not land.
    /// Called before each frame is handled and at each heartbeat tick.
    pub fn running(&mut self, now: Instant) -> Vec<Action> {
        let stood_still = self
            .last_alive
            .replace(now)
            .is_some_and(|t| now.duration_since(t) > self.bound);
        if !stood_still {
            return Vec::new();
        }
        let mut actions = Vec::new();
        for (&node, peer) in self.peers.iter_mut() {
            peer.restart(peer.session.saturating_add(1));
            match peer.state {
                State::Left => continue,
                // Declared down before: it stays so until it is heard.
                State::Down => {}
                State::Up => {
                    actions.push(Action::NodeDown(node));
                    peer.last_heard = now + self.grace;
                }
            }
            actions.push(Action::Disconnect {
                node,
                session: peer.session,
            });
        }
        actions
    }

    /// Notes that this node runs at `now`, without judging the time since
    /// (after acting on a stall, which takes time of its own).
    pub fn alive(&mut self, now: Instant) {
        self.last_alive = Some(now);
    }

    /// The nodes up that have been silent for longer than `after`, worth
    /// asking NATS whether they still listen: none while this node does
    /// not hear itself or gives the others their grace.
    pub fn silent(&self, now: Instant, after: Duration) -> Vec<u16> {
        let connected = self
            .own_heartbeat
            .is_some_and(|t| now.duration_since(t) <= self.bound);
        if !connected || self.cut_off {
            return Vec::new();
        }
        self.peers
            .iter()
            .filter(|(_, p)| p.state == State::Up)
            .filter(|(_, p)| {
                now.checked_duration_since(p.last_heard)
                    .is_some_and(|d| d > after)
            })
            .map(|(&n, _)| n)
            .collect()
    }

    /// NATS says no one listens on `node`'s subjects: its connection is
    /// gone, which is a verdict (if it is still up here, and unless it was
    /// heard since `asked`).
    pub fn gone(&mut self, node: u16, asked: Instant) -> Vec<Action> {
        match self.peers.get(&node) {
            Some(p) if p.state == State::Up && p.last_heard <= asked => self.verdict(node),
            _ => Vec::new(),
        }
    }

    /// Verdicts on nodes silent past the bound, unless this node has not
    /// heard its own heartbeat within it (its own connection is at fault).
    pub fn check(&mut self, now: Instant) -> Vec<Action> {
        let connected = self
            .own_heartbeat
            .is_some_and(|t| now.duration_since(t) <= self.bound);
        if !connected {
            // Silence while this node was cut off says nothing of the
            // others: they start afresh when it is back.
            self.cut_off = true;
            for peer in self.peers.values_mut() {
                peer.last_heard = now;
            }
            return Vec::new();
        }
        if std::mem::take(&mut self.cut_off) {
            for peer in self.peers.values_mut() {
                peer.last_heard = now + self.grace;
            }
        }
        let silent: Vec<u16> = self
            .peers
            .iter()
            .filter(|(_, p)| p.state == State::Up && now.duration_since(p.last_heard) > self.bound)
            .map(|(&n, _)| n)
            .collect();
        silent.into_iter().flat_map(|n| self.verdict(n)).collect()
    }

    /// Declares `node` down: a new session, and the word to it.
    fn verdict(&mut self, node: u16) -> Vec<Action> {
        let Some(peer) = self.peers.get_mut(&node) else {
            return Vec::new();
        };
        peer.state = State::Down;
        peer.restart(peer.session.saturating_add(1));
        vec![
            Action::NodeDown(node),
            Action::Disconnect {
                node,
                session: peer.session,
            },
        ]
    }

    /// Every node this one has heard of or sent to.
    pub fn known(&self) -> Vec<u16> {
        self.peers.keys().copied().collect()
    }

    /// Whether `node` is up and has said its name (a node monitor on one
    /// that is not fires at once).
    pub fn is_up(&self, node: u16) -> bool {
        self.peers
            .get(&node)
            .is_some_and(|p| p.state == State::Up && p.name.is_some())
    }

    /// Whether a process of `node` may be alive: not if the node was
    /// declared down or left, nor if it was never heard of though this
    /// node has listened longer than the bound (a node that ended before
    /// this one joined); otherwise yes, as a node that just joined may not
    /// have been heard yet.
    pub fn may_be_up(&self, node: u16, now: Instant) -> bool {
        match self.peers.get(&node) {
            Some(p) => p.state == State::Up,
            None => now.saturating_duration_since(self.started) < self.bound,
        }
    }

    /// The nodes that are up and have said their names, by slot.
    pub fn up(&self) -> Vec<(u16, String)> {
        let mut up: Vec<(u16, String)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.state == State::Up)
            .filter_map(|(&n, p)| Some((n, p.name.clone()?)))
            .collect();
        up.sort();
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_millis(300);
    const GRACE: Duration = Duration::from_millis(2000);

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn signals_count_up_and_a_gap_is_a_verdict_with_a_new_session() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        assert_eq!(p.signal(2, 0, 0, t), (true, vec![]));
        assert_eq!(p.signal(2, 0, 1, t), (true, vec![]));
        // Signal 2 was lost.
        assert_eq!(
            p.signal(2, 0, 3, t),
            (
                false,
                vec![
                    Action::NodeDown(2),
                    Action::Disconnect {
                        node: 2,
                        session: 1
                    }
                ]
            )
        );
        // Until it is heard again, nothing from it counts, nothing goes.
        assert_eq!(p.signal(2, 0, 4, t), (false, vec![]));
        assert_eq!(p.stamp(2, t), Err(Unreachable::Down));
        // Its heartbeat: it hears of the verdict; the new session starts.
        assert_eq!(
            p.heartbeat(2, "b", t),
            vec![Action::Disconnect {
                node: 2,
                session: 1
            }]
        );
        assert_eq!(p.stamp(2, t), Ok(1));
        assert_eq!(p.sequence(2, 1), Ok(0));
        // A signal of the old session, sent before it heard: dropped.
        assert_eq!(
            p.signal(2, 0, 5, t),
            (
                false,
                vec![Action::Disconnect {
                    node: 2,
                    session: 1
                }]
            )
        );
        assert_eq!(p.signal(2, 1, 0, t), (true, vec![]));
    }

    #[test]
    fn a_signal_stamped_before_a_verdict_is_not_sent_after_it() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        let stamp = p.stamp(2, t).unwrap();
        p.heartbeat(1, "a", at(t, 350));
        assert_eq!(p.check(at(t, 400)).len(), 2);
        p.heartbeat(2, "b", at(t, 500));
        assert_eq!(p.sequence(2, stamp), Err(Unreachable::Down));
    }

    #[test]
    fn silence_is_a_verdict_only_while_this_node_hears_itself() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        p.heartbeat(2, "b", t);
        p.heartbeat(3, "c", t);
        // Cut off: no verdict, however long.
        assert_eq!(p.check(at(t, 1000)), vec![]);
        // Back: the others get the bound and the grace again, from the
        // first check that finds this node connected.
        p.heartbeat(1, "a", at(t, 1100));
        assert_eq!(p.check(at(t, 1100)), vec![]);
        p.heartbeat(1, "a", at(t, 3300));
        p.heartbeat(3, "c", at(t, 3300));
        assert_eq!(p.check(at(t, 3350)), vec![]);
        p.heartbeat(1, "a", at(t, 3420));
        assert_eq!(
            p.check(at(t, 3450)),
            vec![
                Action::NodeDown(2),
                Action::Disconnect {
                    node: 2,
                    session: 1
                }
            ]
        );
        assert_eq!(p.up(), vec![(3, "c".to_owned())]);
    }

    #[test]
    fn a_lost_last_signal_is_found_by_the_count_behind_it() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        assert_eq!(p.signal(2, 0, 0, t), (true, vec![]));
        assert_eq!(p.sent(2, 0, 1, t), vec![]);
        // Signal 1 never came, and nothing followed it but the count.
        assert_eq!(p.sent(2, 0, 2, t).first(), Some(&Action::NodeDown(2)));
        // A count of an older session: the word of the verdict, again.
        p.heartbeat(2, "b", t);
        assert_eq!(
            p.sent(2, 0, 5, t),
            vec![Action::Disconnect {
                node: 2,
                session: 1
            }]
        );
        assert_eq!(p.counts(), vec![(2, 1, 0)]);
    }

    #[test]
    fn a_peer_that_heard_the_verdict_is_up_in_the_new_session_at_once() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        assert_eq!(p.signal(2, 0, 1, t).1.len(), 2);
        // Its first signals of session 1 come before its heartbeat: kept.
        assert_eq!(p.signal(2, 1, 0, t), (true, vec![]));
        assert_eq!(p.sent(2, 1, 1, t), vec![]);
        assert_eq!(p.stamp(2, t), Ok(1));
        // A count of the old session: it missed the word, which goes again.
        assert_eq!(
            p.sent(2, 0, 7, t),
            vec![Action::Disconnect {
                node: 2,
                session: 1
            }]
        );
    }

    #[test]
    fn a_node_that_stood_still_ends_its_sessions_before_it_hears_old_frames() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        assert_eq!(p.running(t), vec![]);
        assert_eq!(p.signal(2, 0, 0, t), (true, vec![]));
        assert_eq!(p.running(at(t, 200)), vec![]);
        // Stopped for a second: every session ends, and the others hear.
        assert_eq!(
            p.running(at(t, 1200)),
            vec![
                Action::NodeDown(2),
                Action::Disconnect {
                    node: 2,
                    session: 1
                }
            ]
        );
        // A frame sent before their verdict (session 0) is dropped.
        assert!(!p.signal(2, 0, 1, at(t, 1200)).0);
        assert_eq!(p.signal(2, 1, 0, at(t, 1210)), (true, vec![]));
        assert_eq!(p.stamp(2, at(t, 1210)), Ok(1));
    }

    #[test]
    fn a_disconnect_is_the_same_verdict_from_the_other_side() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        let stamp = p.stamp(2, t).unwrap();
        assert_eq!(p.sequence(2, stamp), Ok(0));
        assert_eq!(p.disconnect(2, 1, t), vec![Action::NodeDown(2)]);
        // Heard twice: once is enough.
        assert_eq!(p.disconnect(2, 1, t), vec![]);
        assert_eq!(p.sequence(2, 1), Ok(0));
        assert_eq!(p.sequence(2, 0), Err(Unreachable::Down));
    }

    #[test]
    fn announced_plugins_meet_needs_by_name_series_and_version() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        let plugin = |name: &str, version, native| Announced {
            name: name.into(),
            version,
            native,
        };
        let need = |name: &str, series, built_for| PluginNeed {
            name: name.into(),
            series,
            built_for,
        };
        p.heartbeat(2, "risky", t);
        p.announce(2, vec![plugin("hash", (1, 2, 0), true)]);
        p.heartbeat(3, "safe", t);
        p.announce(3, vec![plugin("kv", (0, 3, 1), false)]);
        assert_eq!(
            p.offers(2),
            Some(("risky", &[plugin("hash", (1, 2, 0), true)][..]))
        );
        assert_eq!(p.offering(&need("hash", (1, 0), None)), ["risky"]);
        assert_eq!(
            p.offering(&need("hash", (1, 0), Some((1, 2, 0)))),
            ["risky"]
        );
        // Built for a newer minor: the series is what counts here (the
        // node checks each function as it loads the module).
        assert_eq!(
            p.offering(&need("hash", (1, 0), Some((1, 3, 0)))),
            ["risky"]
        );
        // Another series, another name.
        assert!(p.offering(&need("hash", (2, 0), None)).is_empty());
        assert!(p.offering(&need("sha", (1, 0), None)).is_empty());
        // A 0.x series is its minor.
        assert_eq!(p.offering(&need("kv", (0, 3), None)), ["safe"]);
        assert!(p.offering(&need("kv", (0, 2), None)).is_empty());
        // A node declared down offers nothing.
        p.verdict(2);
        assert_eq!(p.offers(2), None);
        assert!(p.offering(&need("hash", (1, 0), None)).is_empty());
    }

    #[test]
    fn silent_nodes_are_probed_only_while_this_one_hears_itself() {
        let t = Instant::now();
        let beat = Duration::from_millis(100);
        let mut p = Peers::new(1, BOUND, GRACE);
        p.heartbeat(2, "b", t);
        // Not hearing itself: no one is worth asking.
        assert_eq!(p.silent(at(t, 150), beat), Vec::<u16>::new());
        p.heartbeat(1, "a", at(t, 140));
        assert_eq!(p.silent(at(t, 150), beat), vec![2]);
        assert_eq!(p.silent(at(t, 50), beat), Vec::<u16>::new());
        // Heard after it was asked: the answer is stale.
        p.heartbeat(2, "b", at(t, 160));
        assert_eq!(p.gone(2, at(t, 150)), vec![]);
        assert_eq!(
            p.gone(2, at(t, 170)),
            vec![
                Action::NodeDown(2),
                Action::Disconnect {
                    node: 2,
                    session: 1
                }
            ]
        );
        // Down already: nothing more, and not asked again.
        assert_eq!(p.gone(2, at(t, 180)), vec![]);
        assert_eq!(p.silent(at(t, 290), beat), Vec::<u16>::new());
    }

    #[test]
    fn a_node_that_left_stays_gone() {
        let t = Instant::now();
        let mut p = Peers::new(1, BOUND, GRACE);
        p.heartbeat(2, "b", t);
        assert_eq!(p.bye(2, t), vec![Action::NodeDown(2)]);
        assert_eq!(p.heartbeat(2, "b", t), vec![]);
        assert_eq!(p.stamp(2, t), Err(Unreachable::Left));
        assert_eq!(p.signal(2, 0, 0, t), (false, vec![]));
        assert_eq!(p.up(), vec![]);
    }
}
