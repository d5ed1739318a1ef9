//! The oracle's scenarios on the kernel alone (`vm_kernel`, no wasm): the
//! conductor and actors of the `oracle` guest (`tests/guests/rust/oracle`),
//! written as the kernel's Rust actors, printing the same trace. Commands
//! and answers travel as text; a value `v` travels as an empty message
//! with tag `VALUE + v`, its sender the message's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use vm_abi::{message_kinds, MessageKind};
use vm_kernel::actor::Actor;
use vm_kernel::{ExitReason, Filter, Kernel, Limits};

/// Tags: a command and a ping to an actor, an answer and a pong back.
const CMD: u64 = 1 << 40;
const PING: u64 = CMD + 1;
const ACK: u64 = CMD + 2;
const PONG: u64 = CMD + 3;
/// A value `v` travels with tag `VALUE + v`, so `recv A V` selects it.
const VALUE: u64 = 1 << 20;

type Me = Actor<Infallible>;

/// A kernel for running scenarios one after another.
pub fn kernel() -> Arc<Kernel<Infallible>> {
    Kernel::new(Limits {
        max_processes: 1000,
        max_mailbox: 1 << 20,
        max_host_memory: 1 << 30,
        worker_threads: 2,
    })
    .expect("the kernel's workers start")
}

/// Runs `lines` (a scenario, `actors N` first) on `kernel`; its trace.
pub async fn run(kernel: &Arc<Kernel<Infallible>>, lines: Vec<String>) -> String {
    let (done, trace) = tokio::sync::oneshot::channel();
    kernel
        .spawn_actor(move |me| async move {
            let _ = done.send(conduct(me, &lines).await);
            ExitReason::Normal
        })
        .expect("room for the conductor");
    trace.await.expect("the conductor finishes")
}

/// A reason as the trace writes it: a crash is `crash`, whatever its text.
fn reason(encoded: &[u8]) -> String {
    match ExitReason::decode(encoded).expect("an encoded reason") {
        ExitReason::Normal => "normal".into(),
        ExitReason::Exit(text) => text,
        ExitReason::Trap(_) => "crash".into(),
        ExitReason::Killed => "killed".into(),
        ExitReason::NoProc => "noproc".into(),
        ExitReason::NoConnection => "noconnection".into(),
    }
}

fn number<T: std::str::FromStr>(word: &str) -> T {
    word.parse()
        .unwrap_or_else(|_| panic!("{word:?} is not a number"))
}

// ------------------------------------------------------------------ actor

/// An actor's body, boxed: an actor spawns actors.
fn actor(me: Me, conductor: u64) -> Pin<Box<dyn Future<Output = ExitReason> + Send>> {
    Box::pin(act(me, conductor))
}

async fn act(mut me: Me, conductor: u64) -> ExitReason {
    // Monitors by the scenario's number.
    let mut monitors: HashMap<u32, u64> = HashMap::new();
    let commands = Filter {
        tags: vec![CMD, PING],
        kinds: message_kinds::DATA,
    };
    loop {
        let m = me.receive(&commands, None).await.expect("a command");
        if m.tag == PING {
            let _ = me.send(conductor, PONG, b"");
            continue;
        }
        let text = String::from_utf8(m.data.to_vec()).expect("a text command");
        let words: Vec<&str> = text.split(' ').collect();
        let answer = match words[..] {
            ["link", p] => match me.link(number(p)) {
                Ok(()) => "ok".to_string(),
                Err(_) => "failed".to_string(),
            },
            ["unlink", p] => {
                me.unlink(number(p));
                "ok".into()
            }
            ["monitor", p, k] => {
                let reference = me.monitor(number(p)).expect("room for a monitor");
                monitors.insert(number(k), reference);
                "ok".into()
            }
            ["demonitor", k] => {
                if let Some(reference) = monitors.remove(&number(k)) {
                    me.demonitor(reference);
                }
                "ok".into()
            }
            ["exit", p, r] => {
                let target = number(p);
                match r {
                    "kill" => me.kill(target),
                    "normal" => me.send_exit(target, ExitReason::Normal),
                    other => me.send_exit(target, ExitReason::Exit(other.into())),
                }
                "ok".into()
            }
            ["trap", on] => {
                me.trap_exits(on == "on");
                "ok".into()
            }
            ["send", p, v] => {
                let _ = me.send(number(p), VALUE + number::<u64>(v), b"");
                "ok".into()
            }
            ["recv"] => format!("got {}", receive_any(&mut me, &monitors).await),
            ["recv", v] => {
                let value = Filter {
                    tags: vec![VALUE + number::<u64>(v)],
                    kinds: message_kinds::DATA,
                };
                match me.receive(&value, Some(Duration::ZERO)).await {
                    Some(m) => format!("got msg {} {}", m.sender, m.tag - VALUE),
                    None => "got nothing".into(),
                }
            }
            ["drain"] => {
                let mut left = Vec::new();
                loop {
                    match receive_any(&mut me, &monitors).await {
                        got if got == "nothing" => break,
                        got => left.push(got),
                    }
                }
                format!("left {}", left.join("|"))
            }
            ["end", r] => {
                let _ = me.send(conductor, ACK, b"ok");
                return match r {
                    "normal" => ExitReason::Normal,
                    other => ExitReason::Exit(other.into()),
                };
            }
            ["crash"] => {
                let _ = me.send(conductor, ACK, b"ok");
                return ExitReason::Trap("crash".into());
            }
            ["spawn", link] => {
                let child = me
                    .spawn(link == "link", move |a| actor(a, conductor))
                    .expect("an actor starts");
                format!("spawned {child}")
            }
            ["register", n] => match me.register(n) {
                Ok(()) => "ok".into(),
                Err(_) => "failed".into(),
            },
            ["unregister", n] => match me.unregister(n) {
                true => "ok".into(),
                false => "failed".into(),
            },
            ["sendname", n, v] => match me.lookup(n) {
                Some(p) => {
                    let _ = me.send(p, VALUE + number::<u64>(v), b"");
                    "ok".into()
                }
                None => "failed".into(),
            },
            _ => panic!("not a command: {text}"),
        };
        let _ = me.send(conductor, ACK, answer.as_bytes());
    }
}

/// The oldest message of any kind, written as `msg FROM V`, `exit FROM
/// R`, `down K FROM R` (K the scenario's number of the monitor), or
/// `nothing`.
async fn receive_any(me: &mut Me, monitors: &HashMap<u32, u64>) -> String {
    let any = Filter {
        tags: Vec::new(),
        kinds: message_kinds::DATA | message_kinds::EXIT | message_kinds::DOWN,
    };
    let Some(m) = me.receive(&any, Some(Duration::ZERO)).await else {
        return "nothing".into();
    };
    match m.kind {
        MessageKind::Data if (VALUE..CMD).contains(&m.tag) => {
            format!("msg {} {}", m.sender, m.tag - VALUE)
        }
        MessageKind::Exit => format!("exit {} {}", m.sender, reason(&m.data)),
        MessageKind::Down => {
            let k = monitors
                .iter()
                .find(|(_, reference)| **reference == m.tag)
                .map_or(u32::MAX, |(k, _)| *k);
            format!("down {k} {} {}", m.sender, reason(&m.data))
        }
        _ => panic!("not a value: {m:?}"),
    }
}

// -------------------------------------------------------------- conductor

struct Conductor {
    me: Me,
    /// Each actor's id and the conductor's monitor on it.
    actors: Vec<(u64, u64)>,
    alive: Vec<usize>,
    /// Who ended in this step, listed by number once the step settled.
    died: Vec<(usize, String)>,
    trace: Vec<String>,
}

/// What the conductor heard from an actor.
enum Heard {
    Answer(String),
    Pong,
    Down,
}

impl Conductor {
    fn pid(&self, i: &str) -> u64 {
        self.actors[number::<usize>(i)].0
    }

    fn exists(&self, i: &str) -> bool {
        i.parse::<usize>().is_ok_and(|i| i < self.actors.len())
    }

    fn index(&self, pid: &str) -> String {
        let pid: u64 = number(pid);
        self.actors
            .iter()
            .position(|(p, _)| *p == pid)
            .map_or("?".into(), |i| i.to_string())
    }

    /// Waits for actor `i`'s answer (tag `tag`) or its end.
    async fn hear(&mut self, i: usize, tag: u64) -> Heard {
        let monitor = self.actors[i].1;
        let filter = Filter {
            tags: vec![tag, monitor],
            kinds: message_kinds::DATA | message_kinds::DOWN,
        };
        let m = self.me.receive(&filter, None).await.expect("no timeout");
        match m.kind {
            MessageKind::Down => {
                self.alive.retain(|&a| a != i);
                self.died.push((i, reason(&m.data)));
                Heard::Down
            }
            _ if m.tag == PONG => Heard::Pong,
            _ => Heard::Answer(String::from_utf8(m.data.to_vec()).expect("a text answer")),
        }
    }

    fn deaths(&mut self) {
        self.died.sort();
        for (i, r) in self.died.drain(..) {
            self.trace.push(format!("{i} died: {r}"));
        }
    }

    async fn command(&mut self, i: usize, op: &str) -> Option<String> {
        let _ = self.me.send(self.actors[i].0, CMD, op.as_bytes());
        match self.hear(i, ACK).await {
            Heard::Answer(a) => Some(a),
            _ => None,
        }
    }

    /// Pings every live actor, in order, until a whole round finds them
    /// all alive.
    async fn settle(&mut self) {
        loop {
            let mut died = false;
            for i in self.alive.clone() {
                let _ = self.me.send(self.actors[i].0, PING, b"");
                let heard = loop {
                    match self.hear(i, PONG).await {
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

    fn describe(&self, got: &str) -> String {
        let words: Vec<&str> = got.split(' ').collect();
        match words[..] {
            ["nothing"] => "nothing".into(),
            ["msg", from, v] => format!("msg {v} from {}", self.index(from)),
            ["exit", from, r] => format!("exit from {}: {r}", self.index(from)),
            ["down", k, from, r] => format!("down {k} of {}: {r}", self.index(from)),
            _ => panic!("not a description: {got}"),
        }
    }

    async fn step(&mut self, words: &[&str], k: &mut u32) {
        let (verb, i, args) = (words[0], number::<usize>(words[1]), &words[2..]);
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
            ("link" | "unlink", [b]) => format!("{verb} {}", self.pid(b)),
            ("monitor", [b]) => format!("monitor {} {monitor_number}", self.pid(b)),
            ("exit", [b, r]) => format!("exit {} {r}", self.pid(b)),
            ("send", [b, v]) => format!("send {} {v}", self.pid(b)),
            _ => words[..1]
                .iter()
                .chain(args)
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
        };
        match self.command(i, &op).await {
            Some(a) if a.starts_with("spawned ") => {
                // The next number, monitored as the first actors are.
                let child: u64 = number(&a["spawned ".len()..]);
                let monitor = self.me.monitor(child).expect("room for a monitor");
                self.alive.push(self.actors.len());
                self.actors.push((child, monitor));
            }
            Some(a) if a.starts_with("got ") => {
                let line = format!("{i} recv: {}", self.describe(&a["got ".len()..]));
                self.trace.push(line);
            }
            Some(a) if a == "failed" => self
                .trace
                .push(format!("{i} {verb} {} failed", args.join(" "))),
            _ => {}
        }
        self.settle().await;
        self.deaths();
    }
}

async fn conduct(mut me: Me, lines: &[String]) -> String {
    let mut lines = lines.iter();
    let count: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("actors "))
        .map(number)
        .expect("a scenario begins with `actors N`");
    let conductor = me.id();
    let mut actors = Vec::new();
    for _ in 0..count {
        let p = me
            .spawn(false, move |a| actor(a, conductor))
            .expect("an actor starts");
        actors.push((p, me.monitor(p).expect("room for a monitor")));
    }
    let mut c = Conductor {
        me,
        actors,
        alive: (0..count).collect(),
        died: Vec::new(),
        trace: Vec::new(),
    };
    let mut k = 0;
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        c.step(&words, &mut k).await;
    }
    for i in c.alive.clone() {
        if let Some(left) = c.command(i, "drain").await {
            let left = &left["left ".len()..];
            let text = if left.is_empty() {
                "nothing".to_string()
            } else {
                left.split('|')
                    .map(|g| c.describe(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            c.trace.push(format!("{i} left: {text}"));
        }
    }
    c.settle().await;
    c.deaths();
    let alive = c.alive.clone();
    for &i in &alive {
        c.trace.push(format!("{i} alive"));
        c.me.kill(c.actors[i].0);
    }
    // Every actor has ended before the next scenario starts, so none
    // still holds a name it would want.
    for i in alive {
        while !matches!(c.hear(i, PONG).await, Heard::Down) {}
    }
    c.trace.iter().map(|l| format!("{l}\n")).collect()
}
