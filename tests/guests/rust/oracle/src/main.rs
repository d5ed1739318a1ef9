//! `oracle SCENARIO`: runs a scenario of the signal semantics (links,
//! monitors, exit signals, trapping, messages, names) through the ABI, and
//! prints its trace exactly as `tests/oracle/oracle.escript` prints BEAM's,
//! so the two compare line for line. The language and the trace are in
//! `tests/oracle/README.md`; the scenario comes as one argument, its lines
//! separated by `;`.
//!
//! A conductor (this root process) spawns the actors, has one act at each
//! step and waits for its answer, then pings every live actor, in order,
//! until a whole round finds them all alive: so every signal a step caused,
//! and those they caused, is handled before the next step, and the trace
//! does not depend on timing.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use vm_sdk::mailbox::{Down, Event, Exit};
use vm_sdk::process::{self, ExitReason, Monitor, Process, Spawn};
use vm_sdk::{registry, Mailbox};

/// Tags: a command and a ping to an actor, an answer and a pong back.
const CMD: u64 = 1 << 40;
const PING: u64 = CMD + 1;
const ACK: u64 = CMD + 2;
const PONG: u64 = CMD + 3;
/// A value `v` travels with tag `VALUE + v`, so `recv A V` selects it.
const VALUE: u64 = 1 << 20;

/// What an actor is told to do; processes by id.
#[derive(Serialize, Deserialize, Debug)]
enum Op {
    Link(u64),
    Unlink(u64),
    Monitor(u64, u32),
    Demonitor(u32),
    Exit(u64, String),
    Trap(bool),
    Send(u64, u32),
    Recv(Option<u32>),
    Drain,
    End(String),
    Crash,
    /// Spawns a new actor, linked to this one or not.
    Spawn(bool),
    Register(String),
    Unregister(String),
    SendName(String, u32),
}

/// Every data message an actor receives.
#[derive(Serialize, Deserialize, Debug)]
enum Wire {
    Cmd(Op),
    Ping,
    /// A value from another actor: its sender and the value.
    Value(u64, u32),
}

/// What an actor received.
#[derive(Serialize, Deserialize, Debug)]
enum Got {
    Nothing,
    Msg(u64, u32),
    Exit(u64, String),
    Down(u32, u64, String),
}

/// What an actor answers a command with.
#[derive(Serialize, Deserialize, Debug)]
enum Answer {
    Ok,
    Failed,
    Got(Got),
    Left(Vec<Got>),
    /// The actor it spawned.
    Spawned(u64),
    /// The answer to a ping.
    Pong,
}

/// A reason as the trace writes it: a crash is `crash`, whatever its text.
fn reason(r: &ExitReason) -> String {
    match r {
        ExitReason::Normal => "normal".into(),
        ExitReason::Exit(text) => text.clone(),
        ExitReason::Trap(_) => "crash".into(),
        ExitReason::Killed => "killed".into(),
        ExitReason::NoProc => "noproc".into(),
        ExitReason::NoConnection => "noconnection".into(),
    }
}

// ------------------------------------------------------------------ actor

fn actor(conductor: u64, m: Mailbox<Wire>) {
    let to_conductor = Process::<Answer>::from_id(conductor);
    let mut monitors: HashMap<u32, Monitor> = HashMap::new();
    loop {
        let (tag, wire) = m.receive_tagged(&[CMD, PING], None).expect("a command");
        let op = match wire {
            Wire::Ping if tag == PING => {
                to_conductor.send_tagged(Answer::Pong, PONG);
                continue;
            }
            Wire::Cmd(op) => op,
            other => panic!("not a command: {other:?}"),
        };
        let ack = |answer: Answer| to_conductor.send_tagged(answer, ACK);
        match op {
            Op::Link(p) => ack(match Process::<()>::from_id(p).link() {
                Ok(()) => Answer::Ok,
                Err(_) => Answer::Failed,
            }),
            Op::Unlink(p) => {
                Process::<()>::from_id(p).unlink();
                ack(Answer::Ok);
            }
            Op::Monitor(p, k) => {
                monitors.insert(k, Process::<()>::from_id(p).monitor());
                ack(Answer::Ok);
            }
            Op::Demonitor(k) => {
                if let Some(monitor) = monitors.remove(&k) {
                    monitor.demonitor();
                }
                ack(Answer::Ok);
            }
            Op::Exit(p, r) => {
                let target = Process::<()>::from_id(p);
                match r.as_str() {
                    "kill" => target.kill(),
                    "normal" => target.exit(""),
                    other => target.exit(other),
                }
                ack(Answer::Ok);
            }
            Op::Trap(on) => {
                process::trap_exits(on);
                ack(Answer::Ok);
            }
            Op::Send(p, v) => {
                Process::<Wire>::from_id(p)
                    .send_tagged(Wire::Value(process::self_id(), v), VALUE + u64::from(v));
                ack(Answer::Ok);
            }
            Op::Recv(None) => ack(Answer::Got(receive_any(&m, &monitors))),
            Op::Recv(Some(v)) => ack(Answer::Got(
                match m.receive_tagged(&[VALUE + u64::from(v)], Some(Duration::ZERO)) {
                    Ok((_, Wire::Value(from, v))) => Got::Msg(from, v),
                    Ok((_, other)) => panic!("not a value: {other:?}"),
                    Err(_) => Got::Nothing,
                },
            )),
            Op::Drain => {
                let mut left = Vec::new();
                loop {
                    match receive_any(&m, &monitors) {
                        Got::Nothing => break,
                        got => left.push(got),
                    }
                }
                ack(Answer::Left(left));
            }
            Op::End(r) => {
                ack(Answer::Ok);
                if r == "normal" {
                    return;
                }
                process::exit(&r);
            }
            Op::Crash => {
                ack(Answer::Ok);
                panic!("crash");
            }
            Op::Spawn(link) => {
                let spawn = if link {
                    Spawn::new().link()
                } else {
                    Spawn::new()
                };
                let child = spawn.start(conductor, actor).expect("an actor starts");
                ack(Answer::Spawned(child.id()));
            }
            Op::Register(name) => ack(match Process::<()>::this().register(&name) {
                Ok(()) => Answer::Ok,
                Err(_) => Answer::Failed,
            }),
            Op::Unregister(name) => ack(match registry::unregister(&name) {
                Ok(()) => Answer::Ok,
                Err(_) => Answer::Failed,
            }),
            Op::SendName(name, v) => ack(match Process::<Wire>::lookup(&name) {
                Some(p) => {
                    p.send_tagged(Wire::Value(process::self_id(), v), VALUE + u64::from(v));
                    Answer::Ok
                }
                None => Answer::Failed,
            }),
        }
    }
}

/// The oldest message of any kind, or nothing.
fn receive_any(m: &Mailbox<Wire>, monitors: &HashMap<u32, Monitor>) -> Got {
    match m.receive_event(Some(Duration::ZERO)) {
        Ok(Event::Message(Wire::Value(from, v))) => Got::Msg(from, v),
        Ok(Event::Message(other)) => panic!("not a value: {other:?}"),
        Ok(Event::Exit(Exit { process, reason: r })) => Got::Exit(process, reason(&r)),
        Ok(Event::Down(Down {
            monitor,
            process,
            reason: r,
        })) => {
            let k = monitors
                .iter()
                .find(|(_, m)| m.reference() == monitor)
                .map_or(u32::MAX, |(k, _)| *k);
            Got::Down(k, process, reason(&r))
        }
        Err(_) => Got::Nothing,
    }
}

// -------------------------------------------------------------- conductor

struct Conductor {
    /// Each actor's process and the conductor's monitor on it.
    actors: Vec<(Process<Wire>, Monitor)>,
    alive: Vec<usize>,
    /// Who ended in this step: which, and in which order the conductor
    /// hears of them, depends on timing, so the trace lists them by
    /// number once the step has settled.
    died: Vec<(usize, String)>,
    trace: Vec<String>,
}

/// What the conductor's mailbox holds: answers, pongs and downs.
enum Heard {
    Answer(Answer),
    Pong,
    Down,
}

impl Conductor {
    fn pid(&self, i: &str) -> u64 {
        self.actors[i.parse::<usize>().expect("an actor's number")]
            .0
            .id()
    }

    fn exists(&self, i: &str) -> bool {
        i.parse::<usize>().is_ok_and(|i| i < self.actors.len())
    }

    fn index(&self, pid: u64) -> String {
        self.actors
            .iter()
            .position(|(p, _)| p.id() == pid)
            .map_or("?".into(), |i| i.to_string())
    }

    /// Waits for actor `i`'s answer (tag `tag`) or its end.
    fn hear(&mut self, i: usize, tag: u64) -> Heard {
        let monitor = self.actors[i].1.reference();
        match Mailbox::<Answer>::this().receive_event_tagged(&[tag, monitor], None) {
            Ok(Event::Message(Answer::Pong)) => Heard::Pong,
            Ok(Event::Message(answer)) => Heard::Answer(answer),
            Ok(Event::Down(down)) => {
                self.died(i, &down.reason);
                Heard::Down
            }
            other => panic!("the conductor heard {other:?}"),
        }
    }

    fn died(&mut self, i: usize, r: &ExitReason) {
        self.alive.retain(|&a| a != i);
        self.died.push((i, reason(r)));
    }

    fn deaths(&mut self) {
        self.died.sort();
        for (i, r) in self.died.drain(..) {
            self.trace.push(format!("{i} died: {r}"));
        }
    }

    fn command(&mut self, i: usize, op: Op) -> Option<Answer> {
        self.actors[i].0.send_tagged(Wire::Cmd(op), CMD);
        match self.hear(i, ACK) {
            Heard::Answer(a) => Some(a),
            _ => None,
        }
    }

    /// Pings every live actor, in order, until a whole round finds them
    /// all alive.
    fn settle(&mut self) {
        loop {
            let mut died = false;
            for i in self.alive.clone() {
                self.actors[i].0.send_tagged(Wire::Ping, PING);
                let heard = loop {
                    match self.hear(i, PONG) {
                        Heard::Answer(_) => continue,
                        other => break other,
                    }
                };
                died |= matches!(heard, Heard::Down);
            }
            if !died {
                return;
            }
        }
    }

    fn describe(&self, got: &Got) -> String {
        match got {
            Got::Nothing => "nothing".into(),
            Got::Msg(from, v) => format!("msg {v} from {}", self.index(*from)),
            Got::Exit(from, r) => format!("exit from {}: {r}", self.index(*from)),
            Got::Down(k, from, r) => format!("down {k} of {}: {r}", self.index(*from)),
        }
    }

    fn step(&mut self, words: &[&str], k: &mut u32) {
        let (verb, i, args) = (
            words[0],
            words[1].parse::<usize>().expect("an actor"),
            &words[2..],
        );
        let monitor_number = *k;
        if verb == "monitor" {
            *k += 1;
        }
        // A step naming an actor not spawned (yet) does nothing.
        let named = match (verb, args) {
            ("link" | "unlink" | "monitor" | "exit" | "send", [b, ..]) => self.exists(b),
            _ => true,
        };
        if !named || !self.alive.contains(&i) {
            return;
        }
        let op = match (verb, args) {
            ("link", [b]) => Op::Link(self.pid(b)),
            ("unlink", [b]) => Op::Unlink(self.pid(b)),
            ("monitor", [b]) => Op::Monitor(self.pid(b), monitor_number),
            ("demonitor", [n]) => Op::Demonitor(n.parse().expect("a monitor's number")),
            ("exit", [b, r]) => Op::Exit(self.pid(b), r.to_string()),
            ("trap", [on]) => Op::Trap(*on == "on"),
            ("send", [b, v]) => Op::Send(self.pid(b), v.parse().expect("a value")),
            ("recv", []) => Op::Recv(None),
            ("recv", [v]) => Op::Recv(Some(v.parse().expect("a value"))),
            ("end", [r]) => Op::End(r.to_string()),
            ("crash", []) => Op::Crash,
            ("spawn", [link]) => Op::Spawn(*link == "link"),
            ("register", [n]) => Op::Register(n.to_string()),
            ("unregister", [n]) => Op::Unregister(n.to_string()),
            ("sendname", [n, v]) => Op::SendName(n.to_string(), v.parse().expect("a value")),
            _ => panic!("not a step: {words:?}"),
        };
        match self.command(i, op) {
            Some(Answer::Spawned(pid)) => {
                // The next number, monitored as the first actors are.
                let child = Process::<Wire>::from_id(pid);
                let monitor = child.monitor();
                self.alive.push(self.actors.len());
                self.actors.push((child, monitor));
            }
            Some(Answer::Got(got)) => {
                let line = format!("{i} recv: {}", self.describe(&got));
                self.trace.push(line);
            }
            Some(Answer::Failed) => self
                .trace
                .push(format!("{i} {verb} {} failed", args.join(" "))),
            _ => {}
        }
        self.settle();
        self.deaths();
    }
}

fn main() {
    let scenario = std::env::args().nth(1).expect("usage: oracle SCENARIO");
    let mut lines = scenario.split(';').map(str::trim).filter(|l| !l.is_empty());
    let count: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("actors "))
        .and_then(|n| n.parse().ok())
        .expect("a scenario begins with `actors N`");
    let me = process::self_id();
    let actors = (0..count)
        .map(|_| {
            let p = Spawn::new().start(me, actor).expect("an actor starts");
            let monitor = p.monitor();
            (p, monitor)
        })
        .collect();
    let mut c = Conductor {
        actors,
        alive: (0..count).collect(),
        died: Vec::new(),
        trace: Vec::new(),
    };
    let mut k = 0;
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        c.step(&words, &mut k);
    }
    for i in c.alive.clone() {
        if let Some(Answer::Left(left)) = c.command(i, Op::Drain) {
            let text = if left.is_empty() {
                "nothing".to_string()
            } else {
                left.iter()
                    .map(|g| c.describe(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            c.trace.push(format!("{i} left: {text}"));
        }
    }
    c.settle();
    c.deaths();
    for i in c.alive.clone() {
        c.trace.push(format!("{i} alive"));
        c.actors[i].0.kill();
    }
    for line in &c.trace {
        println!("{line}");
    }
}
