//! A Rust process that loads the C and AssemblyScript polyglot modules (built
//! before this crate into target/guests), spawns them, and exchanges typed
//! messages with them:
//!
//! * `vm run polyglot.wasm -- transform`: one Sample to a Rust, a C and an
//!   AssemblyScript process, each replying with a transformation; every
//!   reply is checked field by field.
//! * `vm run polyglot.wasm -- codec SEED CASES`: random Samples to the C and
//!   AssemblyScript echo services, whose decoders and encoders must give back
//!   exactly postcard's bytes.
//! * `vm run polyglot.wasm -- schema CASES`: the codecs `vm bindgen`
//!   generates, property-tested against postcard (`schema.rs`).

use serde::{Deserialize, Serialize};
use std::time::Duration;
use vm_sdk::process::{Module, Spawn};
use vm_sdk::{spawn, Mailbox, Process};

static C_MODULE: &[u8] = include_bytes!("../../../../../target/guests/c/polyglot.wasm");
static AS_MODULE: &[u8] = include_bytes!("../../../../../target/guests/as/polyglot.wasm");
static C_SCHEMA: &[u8] = include_bytes!("../../../../../target/guests/c/schema-echo.wasm");
static AS_SCHEMA: &[u8] = include_bytes!("../../../../../target/guests/as/schema-echo.wasm");

mod everything;
mod schema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Point,
    Circle(u32),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    count: u32,
    delta: i64,
    name: String,
    bytes: Vec<u8>,
    note: Option<String>,
    shape: Shape,
}

/// The transformation every language implements.
fn transform(s: &Sample) -> Sample {
    Sample {
        count: s.count.wrapping_add(1),
        delta: s.delta.wrapping_sub(1),
        name: s.name.to_ascii_uppercase(),
        bytes: s.bytes.iter().rev().copied().collect(),
        note: Some(match &s.note {
            Some(n) => format!("{n}!"),
            None => "none".into(),
        }),
        shape: match s.shape {
            Shape::Point => Shape::Circle(1),
            Shape::Circle(r) => Shape::Rect { w: r, h: r },
            Shape::Rect { .. } => Shape::Point,
        },
    }
}

fn start(module: &Module, entry: &str) -> Process<Vec<u8>> {
    Spawn::new()
        .start_export(module, entry, 0, b"")
        .unwrap_or_else(|e| panic!("spawning {entry}: {e}"))
}

/// Sends raw bytes and waits for the raw reply, matched by a fresh tag.
fn call(service: u64, request: &[u8]) -> (u64, Vec<u8>) {
    let tag = vm_sdk::mailbox::fresh_tag();
    Process::<()>::from_id(service).send_bytes(request, tag);
    let reply =
        vm_sdk::mailbox::receive_bytes(&[tag, 0], Some(Duration::from_secs(10))).expect("a reply");
    (reply.tag, reply.bytes)
}

fn check_fields(language: &str, got: &Sample, want: &Sample) {
    let fields = [
        ("count", got.count == want.count),
        ("delta", got.delta == want.delta),
        ("name", got.name == want.name),
        ("bytes", got.bytes == want.bytes),
        ("note", got.note == want.note),
        ("shape", got.shape == want.shape),
    ];
    let bad: Vec<_> = fields
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(f, _)| *f)
        .collect();
    if bad.is_empty() {
        println!("{language}: all six fields transformed as expected");
    } else {
        println!("{language}: wrong fields {bad:?}: got {got:?}, want {want:?}");
    }
}

fn transform_all() {
    let sample = Sample {
        count: 41,
        delta: -7,
        name: "ada lovelace".into(),
        bytes: vec![1, 2, 3, 250],
        note: Some("hi".into()),
        shape: Shape::Circle(9),
    };
    let want = transform(&sample);
    // Rust: a spawned function with a typed mailbox.
    let rust = spawn(
        (),
        |(), m: Mailbox<vm_sdk::request::Request<Sample, Sample>>| {
            while let Ok(r) = m.receive() {
                let t = transform(r.body());
                r.reply(t);
            }
        },
    );
    check_fields("rust", &rust.request(sample.clone()).unwrap(), &want);
    let request = postcard::to_allocvec(&sample).unwrap();
    for (language, bytes) in [("c", C_MODULE), ("assemblyscript", AS_MODULE)] {
        let module =
            Module::load(bytes).unwrap_or_else(|e| panic!("loading the {language} module: {e}"));
        let service = start(&module, "serve_transform");
        let (_, reply) = call(service.id(), &request);
        match postcard::from_bytes::<Sample>(&reply) {
            Ok(got) => check_fields(language, &got, &want),
            Err(e) => println!("{language}: reply does not decode: {e}"),
        }
        // A message that is not a Sample gets the decode-error reply.
        let (tag, reply) = call(service.id(), &[0xff, 0xff, 0xff]);
        println!(
            "{language}: garbage gets a decode error: {}",
            tag == 0 && reply.is_empty()
        );
    }
    // Hostile sequence lengths: a count over 32 bits (2^32 + 1, which a
    // 32-bit decoder once read as 1), one over 2^31 (once negative in
    // AssemblyScript), and one larger than the bytes left are errors; an
    // honest count is not.
    let corpus: [(&str, &[u8]); 4] = [
        ("2^32+1", &[0x81, 0x80, 0x80, 0x80, 0x10]),
        ("2^31", &[0x80, 0x80, 0x80, 0x80, 0x08]),
        ("6 of 5 bytes", &[0x06, 1, 2, 3, 4, 5]),
        ("5 of 5 bytes", &[0x05, 1, 2, 3, 4, 5]),
    ];
    for (language, bytes) in [("c", C_MODULE), ("assemblyscript", AS_MODULE)] {
        let module = Module::load(bytes).expect("loading the module");
        let service = start(&module, "serve_len");
        let verdicts: Vec<String> = corpus
            .iter()
            .map(|(what, bytes)| match call(service.id(), bytes) {
                (0, reply) if reply.is_empty() => format!("{what} refused"),
                (_, reply) => format!("{what} read as {:?}", postcard::from_bytes::<u32>(&reply)),
            })
            .collect();
        println!("{language}: lengths: {}", verdicts.join(", "));
    }
    let module = Module::load(AS_MODULE).expect("loading the assemblyscript module");
    let surrogate = start(&module, "serve_surrogate");
    let (_, reply) = call(surrogate.id(), b"");
    println!(
        "assemblyscript: a lone surrogate arrives as {:?}",
        postcard::from_bytes::<String>(&reply)
    );
    let selective = Process::<()>::from_id(start(&module, "serve_selective").id());
    selective.send_bytes(b"a", 1);
    selective.send_bytes(b"b", 2);
    let reply = vm_sdk::mailbox::receive_bytes(&[3], Some(Duration::from_secs(10)));
    println!(
        "assemblyscript: selective receive by tag: {}",
        reply.map(|r| r.bytes) == Ok(b"ba".to_vec())
    );
}

/// xorshift64*: deterministic, seeded from the command line.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn edge_u32(&mut self) -> u32 {
        match self.below(6) {
            0 => 0,
            1 => u32::MAX,
            2 => 127,
            3 => 128,
            _ => self.next() as u32 >> self.below(32),
        }
    }

    fn edge_i64(&mut self) -> i64 {
        match self.below(6) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            3 => 0,
            _ => (self.next() as i64) >> self.below(64),
        }
    }

    fn text(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', ' ', '0', 'é', 'ß', '中', '😀', '\u{7f}', '\u{80}', '\n',
        ];
        let n = self.below(40);
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }

    fn sample(&mut self) -> Sample {
        Sample {
            count: self.edge_u32(),
            delta: self.edge_i64(),
            name: self.text(),
            bytes: (0..self.below(300)).map(|_| self.next() as u8).collect(),
            note: if self.below(2) == 0 {
                None
            } else {
                Some(self.text())
            },
            shape: match self.below(3) {
                0 => Shape::Point,
                1 => Shape::Circle(self.edge_u32()),
                _ => Shape::Rect {
                    w: self.edge_u32(),
                    h: self.edge_u32(),
                },
            },
        }
    }
}

fn codec(seed: u64, cases: u32) {
    for (language, bytes) in [("c", C_MODULE), ("assemblyscript", AS_MODULE)] {
        let module =
            Module::load(bytes).unwrap_or_else(|e| panic!("loading the {language} module: {e}"));
        let service = start(&module, "serve_echo");
        let mut rng = Rng(seed | 1);
        let mut identical = 0;
        for case in 0..cases {
            let sample = rng.sample();
            let request = postcard::to_allocvec(&sample).unwrap();
            let (_, reply) = call(service.id(), &request);
            if reply == request && postcard::from_bytes::<Sample>(&reply).as_ref() == Ok(&sample) {
                identical += 1;
            } else {
                println!("{language}: case {case} (seed {seed}) differs: sent {request:?} for {sample:?}, got {reply:?}");
            }
        }
        println!("{language}: {identical}/{cases} identical");
    }
}

/// A Rust server (vm_sdk::server) that doubles what it is called with.
struct Doubler;

impl vm_sdk::server::Server for Doubler {
    type Arg = ();
    type Call = u32;
    type Reply = u32;
    type Cast = ();

    fn init((): ()) -> Result<Self, vm_sdk::Failure> {
        Ok(Doubler)
    }

    fn handle_call(&mut self, request: vm_sdk::request::Request<u32, u32>) -> vm_sdk::server::Next {
        let n = *request.body();
        request.reply(n * 2);
        vm_sdk::server::Next::Continue
    }
}

/// C and AssemblyScript processes call a Rust server with their SDK's
/// request, then call it again after it has stopped.
fn call_server() {
    let server = vm_sdk::server::start::<Doubler>(()).unwrap();
    let me = vm_sdk::process::self_id();
    let ask = |language: &str, bytes: &[u8], server: u64| {
        let module =
            Module::load(bytes).unwrap_or_else(|e| panic!("loading the {language} module: {e}"));
        let init = postcard::to_allocvec(&(server, me, 21u32)).unwrap();
        Spawn::new()
            .start_export::<()>(&module, "call_server", 0, &init)
            .unwrap();
        Mailbox::<u32>::this().receive().unwrap()
    };
    for (language, bytes) in [("c", C_MODULE), ("assemblyscript", AS_MODULE)] {
        println!(
            "{language} calls a Rust server: 21 * 2 = {}",
            ask(language, bytes, server.id())
        );
    }
    let monitor = server.process().monitor();
    server.process().kill();
    monitor.wait(None).unwrap();
    for (language, bytes) in [("c", C_MODULE), ("assemblyscript", AS_MODULE)] {
        let got = ask(language, bytes, server.id());
        println!(
            "{language} calls it once it has ended: {}",
            if got == 0xffff_fffd {
                "down, noproc".to_string()
            } else {
                got.to_string()
            }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("transform") => transform_all(),
        Some("codec") => {
            let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            let cases = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
            codec(seed, cases);
        }
        Some("call-server") => call_server(),
        Some("schema") => schema::run(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256)),
        _ => eprintln!("usage: polyglot (transform | codec SEED CASES | schema CASES)"),
    }
}
