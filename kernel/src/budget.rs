//! What the host holds because of guests, charged to the one who asks.
//!
//! Every host-side structure a process can make the VM fill (messages,
//! timers, spawn captures, hibernation states, links, monitors, handles,
//! exit signals waiting for their target, compiled modules) is paid for by
//! a [`Charge`] against a process's [`Budget`] (`--max-mailbox`), and every
//! process's budget counts towards the VM's [`HostBudget`]
//! (`--max-host-memory`). A charge is given back when it is dropped, so
//! what holds the thing holds its charge, and nothing needs a second book.
//!
//! Two rules decide who fails at a bound (see `abi/README.md`, "Bounded by
//! design"):
//! - a process's own action (set a timer, spawn with a capture, hibernate,
//!   link, monitor, take a handle) that would pass either bound is refused,
//!   with nothing changed ([`Budget::charge`]);
//! - a message or signal for a receiver is the receiver's to pay, as in
//!   Erlang: past the receiver's bound it is the receiver that ends (its
//!   mailbox overflows), while past the VM's bound the **sender** is refused
//!   and the receiver is untouched ([`Budget::charge_receiver`]).
//!
//! This module is a leaf of the kernel: it knows nothing of wasm.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The VM-wide bound: the sum of every process's charges.
#[derive(Debug)]
pub struct HostBudget {
    held: AtomicUsize,
    limit: usize,
    /// How many wait in [`HostBudget::released`]: a charge given back
    /// tells them only when there are some, so the common release touches
    /// no lock.
    waiting: AtomicUsize,
    /// Told when a charge is given back while someone waits.
    released: tokio::sync::Notify,
}

/// A wait for the next charge given back ([`HostBudget::released`]).
pub struct Released<'a> {
    budget: &'a HostBudget,
    notified: std::pin::Pin<Box<tokio::sync::futures::Notified<'a>>>,
}

impl Released<'_> {
    /// Resolves once a charge has been given back since the wait began.
    pub async fn wait(mut self) {
        self.notified.as_mut().await;
    }
}

impl Drop for Released<'_> {
    fn drop(&mut self) {
        self.budget.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HostBudget {
    /// A VM-wide bound of `limit` bytes, nothing held yet.
    pub fn new(limit: usize) -> Arc<HostBudget> {
        Arc::new(HostBudget {
            held: AtomicUsize::new(0),
            limit,
            waiting: AtomicUsize::new(0),
            released: tokio::sync::Notify::new(),
        })
    }

    /// A wait for the next charge given back anywhere in the VM, for a
    /// sender the VM's bound refused: begin it, try once more, then
    /// [`Released::wait`] (a release between the two is not missed).
    pub fn released(&self) -> Released<'_> {
        let mut notified = Box::pin(self.released.notified());
        notified.as_mut().enable();
        // After the registration, so a release that does not see the count
        // came before it, and the next try sees what it gave back.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Released {
            budget: self,
            notified,
        }
    }

    /// What every charge in the VM holds now, in bytes.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Adds `cost` unless that would pass the limit (or always, if
    /// `forced`); returns what would have been held on refusal.
    fn add(&self, cost: usize, forced: bool) -> Result<(), usize> {
        if forced {
            self.held.fetch_add(cost, Ordering::SeqCst);
            return Ok(());
        }
        // Never past the limit, not even for a moment: a charge that is
        // refused leaves nothing to give back, so no other charge is
        // refused because of it, and no waiter misses a release.
        self.held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                let after = held.saturating_add(cost);
                (after <= self.limit).then_some(after)
            })
            .map(|_| ())
            .map_err(|held| held.saturating_add(cost))
    }

    fn sub(&self, cost: usize) {
        self.held.fetch_sub(cost, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.released.notify_waiters();
        }
    }
}

/// One process's account: what the host holds for it.
#[derive(Debug)]
pub struct Budget {
    held: AtomicUsize,
    limit: usize,
    host: Arc<HostBudget>,
}

/// Which bound a charge would have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The process's own budget (`--max-mailbox`).
    Process {
        /// What the process holds.
        held: usize,
        /// Its bound.
        limit: usize,
    },
    /// The VM's (`--max-host-memory`).
    Host {
        /// What the VM holds for every process.
        held: usize,
        /// Its bound.
        limit: usize,
    },
    /// What one message between nodes may carry (NATS's `max_payload`).
    Wire {
        /// The message's size.
        size: usize,
        /// The bound.
        limit: usize,
    },
}

impl Refusal {
    /// A user-facing text: `what` (for example "setting this timer") would
    /// take which bound past its limit, and the flag that raises it. It
    /// goes with the `limit-reached` code, which SDKs print before it; a
    /// trap reason says `limit-reached: ` itself.
    pub fn explain(&self, what: &str) -> String {
        match *self {
            Refusal::Process { held, limit } => format!(
                "{what} would make the VM hold {held} bytes for this process (its messages, timers, captures, links, monitors, handles and hibernation state), over its limit of {limit} bytes (raise it with --max-mailbox)"
            ),
            Refusal::Host { held, limit } => format!(
                "{what} would make the VM hold {held} bytes for all its processes, over the VM's limit of {limit} bytes (raise it with --max-host-memory)"
            ),
            Refusal::Wire { size, limit } => format!(
                "{what} to a process of another node would take {size} bytes, over the {limit} bytes one message between nodes may carry (the NATS server's max_payload)"
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain("this"))
    }
}

impl Budget {
    /// A process's account with `limit` bytes, inside the VM's.
    pub fn new(limit: usize, host: &Arc<HostBudget>) -> Arc<Budget> {
        Arc::new(Budget {
            held: AtomicUsize::new(0),
            limit,
            host: host.clone(),
        })
    }

    /// What the host holds for this process now, in bytes.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Charges the process for something it asked for; refused, with
    /// nothing charged, if that would pass its own limit or the VM's.
    pub fn charge(self: &Arc<Self>, cost: usize) -> Result<Charge, Refusal> {
        self.add_own(cost)?;
        if let Err(held) = self.host.add(cost, false) {
            self.held.fetch_sub(cost, Ordering::Relaxed);
            return Err(Refusal::Host {
                held,
                limit: self.host.limit,
            });
        }
        Ok(Charge {
            budget: Some(self.clone()),
            cost,
        })
    }

    /// Charges the process whatever the bounds say: only to put back what
    /// was just taken out within them (a handle a failed call returns).
    pub fn charge_anyway(self: &Arc<Self>, cost: usize) -> Charge {
        self.held.fetch_add(cost, Ordering::Relaxed);
        let _ = self.host.add(cost, true);
        Charge {
            budget: Some(self.clone()),
            cost,
        }
    }

    /// Charges the receiver for something sent to it. `sent_by_guest`:
    /// a guest's send, which the VM's bound may refuse (the sender then
    /// gets `limit-reached`); otherwise the VM's own message (a `down`, an
    /// exit, a timer that fires), already accounted for by what caused it,
    /// which the VM's bound never refuses. Past the receiver's own limit the
    /// refusal is [`Refusal::Process`], and the receiver is the one to end.
    pub fn charge_receiver(
        self: &Arc<Self>,
        cost: usize,
        sent_by_guest: bool,
    ) -> Result<Charge, Refusal> {
        if let Err(held) = self.host.add(cost, !sent_by_guest) {
            return Err(Refusal::Host {
                held,
                limit: self.host.limit,
            });
        }
        if let Err(r) = self.add_own(cost) {
            self.host.sub(cost);
            return Err(r);
        }
        Ok(Charge {
            budget: Some(self.clone()),
            cost,
        })
    }

    fn add_own(&self, cost: usize) -> Result<(), Refusal> {
        let before = self.held.fetch_add(cost, Ordering::Relaxed);
        let after = before.saturating_add(cost);
        if after > self.limit {
            self.held.fetch_sub(cost, Ordering::Relaxed);
            return Err(Refusal::Process {
                held: after,
                limit: self.limit,
            });
        }
        Ok(())
    }
}

/// What something the host holds costs, against whoever pays for it;
/// given back when dropped.
#[derive(Debug, Default)]
pub struct Charge {
    budget: Option<Arc<Budget>>,
    cost: usize,
}

impl Charge {
    /// A charge of nothing to no one: a message not yet charged, or the
    /// side of a link that the other side pays for.
    pub const fn none() -> Charge {
        Charge {
            budget: None,
            cost: 0,
        }
    }

    /// The bytes it charges.
    pub fn cost(&self) -> usize {
        self.cost
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(b) = self.budget.take() {
            b.held.fetch_sub(self.cost, Ordering::Relaxed);
            b.host.sub(self.cost);
        }
    }
}

/// The bytes of a machine's memory, from `/proc/meminfo`; `None` where it
/// cannot be read.
pub fn physical_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The default `--max-host-memory`: a quarter of the machine's memory (4 GiB
/// where it cannot be read), so that guests together cannot make the VM
/// hold more than the machine can spare beside their own linear memories.
pub fn default_host_limit() -> usize {
    physical_memory().map_or(4 << 30, |m| m / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_is_given_back_when_dropped_to_both_books() {
        let host = HostBudget::new(1000);
        let a = Budget::new(600, &host);
        let c = a.charge(500).unwrap();
        assert_eq!((a.held(), host.held()), (500, 500));
        assert_eq!(
            a.charge(200).unwrap_err(),
            Refusal::Process {
                held: 700,
                limit: 600
            }
        );
        drop(c);
        assert_eq!((a.held(), host.held()), (0, 0));
    }

    #[test]
    fn the_vm_bound_refuses_an_action_and_a_guest_send_but_not_the_vms_own_messages() {
        let host = HostBudget::new(1000);
        let (a, b) = (Budget::new(800, &host), Budget::new(800, &host));
        let _held = a.charge(700).unwrap();
        assert!(matches!(b.charge(400), Err(Refusal::Host { .. })));
        assert!(matches!(
            b.charge_receiver(400, true),
            Err(Refusal::Host { .. })
        ));
        assert_eq!((b.held(), host.held()), (0, 700));
        let forced = b.charge_receiver(400, false).unwrap();
        assert_eq!(host.held(), 1100);
        drop(forced);
        assert_eq!((b.held(), host.held()), (0, 700));
    }

    #[test]
    fn past_its_own_limit_the_receiver_is_refused_and_nothing_stays_charged() {
        let host = HostBudget::new(10_000);
        let b = Budget::new(100, &host);
        assert!(matches!(
            b.charge_receiver(101, false),
            Err(Refusal::Process {
                held: 101,
                limit: 100
            })
        ));
        assert_eq!((b.held(), host.held()), (0, 0));
    }
}
