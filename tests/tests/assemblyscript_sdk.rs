//! The AssemblyScript SDK: examples compiled with the pinned `asc`, run on
//! the VM with the same assertions as the Rust and C ones, the SDK's own
//! behaviour through `tests/guests/assemblyscript/checks.ts` (`checks NAME`),
//! and what the compiler accepts and refuses of small apps (`asc_build`).

use std::process::Command;
use vm_reference::{ExitReason, ModuleInfo, NetRule};
use vm_tests::{
    as_guest, echo_100_clients, ping_pong_transcript, root, run_file, run_file_on, start_server,
    test_vm, Run, HELLO_TRANSCRIPT,
};

/// Runs `checks NAME` with loopback networking granted.
async fn check(name: &str) -> Run {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    run_file_on(vm, &as_guest("checks"), &[name]).await.unwrap()
}

/// Runs `checks NAME` and returns what it printed, requiring a normal exit.
async fn check_output(name: &str) -> String {
    let run = check(name).await;
    assert_eq!(
        run.outcome.reason,
        ExitReason::Normal,
        "{name}: {}",
        run.stderr
    );
    run.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_hello_greets_from_a_spawned_process() {
    let run = run_file(&as_guest("hello"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, HELLO_TRANSCRIPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_ping_pong_plays_the_rounds_it_is_given() {
    let run = run_file(&as_guest("ping-pong"), &["5"]).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ping_pong_transcript(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_echo_server_returns_every_byte_to_100_concurrent_clients() {
    let server = start_server(&as_guest("echo-server")).await;
    echo_100_clients(&server).await;
}

#[test]
fn assemblyscript_modules_import_nothing_from_env() {
    for name in [
        "hello",
        "ping-pong",
        "echo-server",
        "counter",
        "polyglot",
        "scenarios",
        "checks",
    ] {
        let info = ModuleInfo::read(&std::fs::read(as_guest(name)).unwrap()).unwrap();
        let foreign: Vec<_> = info
            .imports
            .iter()
            .filter(|i| !i.module.starts_with("vm:host/") && i.module != "wasi_snapshot_preview1")
            .map(|i| format!("{}.{}", i.module, i.name))
            .collect();
        assert!(foreign.is_empty(), "{name} imports {foreign:?}");
        assert!(info.check().is_empty(), "{name}: {:?}", info.check());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_on_a_stack_overflow_ends_the_process_with_its_message() {
    let run = check("abort-stack-overflow").await;
    let reason = "abort: stack overflow: calls nested deeper than the shadow stack holds \
                  (recurse less deeply, or raise asc's --stackSize)";
    assert_eq!(
        run.outcome.reason,
        ExitReason::Trap(reason.into()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{reason}\n")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_with_no_memory_left_to_copy_its_message_still_reports_it() {
    let run = check("abort-out-of-memory").await;
    let ExitReason::Trap(reason) = &run.outcome.reason else {
        panic!("ended with {:?}: {}", run.outcome.reason, run.stderr);
    };
    // The message is cut, and where it came from is kept.
    let (message, place) = reason
        .strip_prefix("abort: ")
        .and_then(|r| r.split_once(" at tests/guests/assemblyscript/checks.ts:"))
        .unwrap_or_else(|| panic!("{reason}"));
    assert!(
        message.len() > 700 && message.bytes().all(|b| b == b'x'),
        "{reason}"
    );
    let (line, column) = place.split_once(':').unwrap_or_else(|| panic!("{reason}"));
    assert!(
        line.parse::<u32>().is_ok() && column.parse::<u32>().is_ok(),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_of_a_large_message_makes_receive_fail_instead_of_returning_zeros() {
    assert_eq!(
        check_output("read-failure").await,
        "receive: failed, out-of-bounds: buffer at 4294967280 of 744 bytes lies outside memory\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_error_returns_a_text_longer_than_256_bytes_whole() {
    assert_eq!(
        check_output("long-error").await,
        "connect: permission-denied\n\
         text: 731 bytes, ends with the host: true, lastError() the same: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failure_the_sdk_finds_itself_last_error_describes_it() {
    assert_eq!(
        check_output("sdk-error").await,
        "vm: not-found: no process is registered as `nobody`\n\
         decode: decode: a message from process 1 (tag 0, 3 bytes) does not decode as u32\n\
         tryWrite: would-block: the socket's send buffer is full; write waits for room\n\
         setWriteTimeout(0): invalid-argument: a timeout of 0 ms would never wait; pass -1 for none, or use tryWrite\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_closes_and_a_closed_one_names_nothing() {
    assert_eq!(
        check_output("close").await,
        "listener closes: ok\n\
         closed listener: handle 0, accept invalid-handle, close again invalid-handle\n\
         its address is free again: ok\n\
         stream closes: ok\n\
         peer of a closed stream reads: 0\n\
         read half closes: ok\n\
         write half closes: ok\n\
         module closes: ok\n\
         closed module spawns: invalid-handle\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_that_moved_holds_no_handle_and_fails_with_invalid_handle() {
    assert_eq!(
        check_output("moved").await,
        "sent in a message: handle 0, then invalid-handle\n\
         spawned with: handle 0, then invalid-handle\n\
         split: handle 0, then invalid-handle\n\
         reunited read half: handle 0, then invalid-handle\n\
         reunited write half: handle 0, then invalid-handle\n\
         closed: handle 0, then invalid-handle\n\
         sent by a timer: handle 0, then invalid-handle\n\
         raw list: the object still holds its number: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_handle_is_taken_as_its_class_and_another_kind_stays_in_the_message() {
    assert_eq!(
        check_output("typed-take").await,
        "as a write half: invalid-argument: handle number 0 of the current message is a read half, \
         not a write half; it stays in the message\n\
         as a read half: taken, handle set true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_processes_exit_reasons_resolve_and_socket_options_match_the_rust_sdk() {
    assert_eq!(
        check_output("typed").await,
        "a bytes request between two processes: raw bytes\n\
         point: -3,4 here\n\
         strings: a+b\n\
         option: none\n\
         exit reason: exit: why (kind 1 == EXIT: true)\n\
         resolve localhost:8080: loopback addresses\n\
         resolve example.com: permission-denied\n\
         nodelay: true, then false\n\
         timeouts move to the halves: read 1500 ms, write 20 ms\n\
         a cleared timeout reads as -1, as the setter takes it\n\
         halves' addresses: true, peer true\n\
         read half shuts down: ok\n\
         write half shuts down: ok\n\
         shutdown how: 2\n\
         abi: vm 1.9.0, sdk 1.9.0, served: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenarios_guest_names_its_scenarios_when_given_another() {
    let run = run_file(&as_guest("scenarios"), &["bogus"]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Exit("unknown scenario 'bogus'".into())
    );
    assert_eq!(
        run.stderr,
        "usage: scenarios monitor|links|exits|registry|timer|request|halves|hibernate|active|\
         cluster-server|node-local|doubler|ask ID N\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_request_gave_up_is_dropped() {
    assert_eq!(
        check_output("late-reply").await,
        "a request that gives up: timeout\n\
         its late reply left over: no\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_call_reports_a_failure_as_a_result_naming_its_status() {
    assert_eq!(
        check_output("results").await,
        "lookup: not-found (NOT_FOUND: true, an Error: true)\n\
         valueOr: 7\n\
         register: ok, again: already-registered (ALREADY_REGISTERED: true)\n\
         unregister: ok, again: not-found\n\
         receive: timeout (TIMEOUT: true)\n\
         receive<u32> of 3 bad bytes: decode (DECODE: true, the message kept: 3 bytes)\n\
         read of a closed stream: invalid-handle\n\
         port: 8080\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throw_reaches_monitors_as_a_trap_and_exit_as_an_exit() {
    let out = check_output("crash-reasons").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // A throw is a crash: `trap`, with the message and where it was thrown.
    assert!(
        lines[0].starts_with(
            "throw: trap: abort: thrown on purpose at tests/guests/assemblyscript/checks.ts:"
        ),
        "{out}"
    );
    // A deliberate exit is not: `exit`, with the reason as given.
    assert_eq!(lines[1], "exit: exit: exited on purpose", "{out}");
    // Reading the value of a failed call crashes, with the failure.
    assert_eq!(
        lines[2],
        "value of a failure: trap: the value of a failed call was read: \
         not-found: no process is registered as `nobody`",
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_example_serves_its_clients_through_a_crash_and_the_supervisors_restart() {
    let run = run_file(&as_guest("counter"), &["3", "4"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let failed_once = ", after 1 failed: down: the server ended before it replied: noproc";
    let expected_before = [
        "the supervisor started the counter",
        "client 1: 4 increments answered",
        "client 2: 4 increments answered",
        "client 3: 4 increments answered",
        "the counter reads 12",
    ];
    let expected_after = [
        "the supervisor restarted the counter: a new process".to_string(),
        format!("client 1: 4 increments answered{failed_once}"),
        format!("client 2: 4 increments answered{failed_once}"),
        format!("client 3: 4 increments answered{failed_once}"),
        "the restarted counter reads 12".to_string(),
    ];
    assert_eq!(lines.len(), 11, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(lines[..5], expected_before, "{}", run.stdout);
    // The request that crashed the counter fails with the crash's reason,
    // seen through the request's monitor, instead of waiting.
    assert!(
        lines[5].starts_with(
            "the crash request: failed, down: the server ended before it replied: \
             trap: abort: asked to crash at examples/assemblyscript/counter.ts:"
        ),
        "{}",
        run.stdout
    );
    // The clients that held the crashed counter each see their request fail,
    // then finish against the one the supervisor started, which counts from
    // 0 again.
    assert_eq!(lines[6..], expected_after, "{}", run.stdout);
    // The supervisor saw the crash through its link, once, and restarted once.
    let reports: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("supervisor: "))
        .collect();
    assert_eq!(reports.len(), 1, "{}", run.stderr);
    assert!(
        reports[0].starts_with("supervisor: the counter crashed (trap: abort: asked to crash at ")
            && reports[0].ends_with("); restart 1 of 3"),
        "{}",
        run.stderr
    );
}

/// Compiles `source`, an app that imports the SDK from `@sdk`, with the
/// pinned `asc` and the repo's asconfig.json (as `cargo xtask build-guests`
/// does); returns whether it built and what `asc` said.
fn asc_build(name: &str, source: &str) -> (bool, String) {
    // Building the guests once installs the compiler.
    as_guest("hello");
    let root = root();
    let dir = root.join("target/tmp/as-compile").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("app.ts");
    let sdk = "../../../../sdk-assemblyscript/assembly/index";
    std::fs::write(&file, source.replace("@sdk", sdk)).unwrap();
    let out = Command::new(root.join("sdk-assemblyscript/node_modules/.bin/asc"))
        .current_dir(&root)
        .arg(file.strip_prefix(&root).unwrap())
        .arg("--config")
        .arg(root.join("examples/assemblyscript/asconfig.json"))
        .arg("-o")
        .arg(dir.join("app.wasm"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_app_without_a_start_function_fails_to_build_and_says_how_to_fix_it() {
    let (built, said) = asc_build(
        "no-start",
        "import { print } from \"@sdk\";\n\
         export function main(): void { print(\"never run\"); }\n",
    );
    assert!(!built, "{said}");
    assert!(
        said.contains("vm-host-sdk: the module exports no `_start`")
            && said.contains("export function _start(): void"),
        "{said}"
    );
    let (built, said) = asc_build(
        "start-with-a-result",
        "export function _start(): i32 { return 1; }\n",
    );
    assert!(!built, "{said}");
    assert!(
        said.contains("`_start` takes arguments or returns a value"),
        "{said}"
    );
}

/// A counter typed end to end: its capture, its mailbox and its requests.
const TYPED_APP: &str = "\
import { Mailbox, Process, Request, exit, print, request, spawn } from \"@sdk\";
function counter(start: u64, mailbox: Mailbox<Request<u64, u64>>): void {
  let n = start;
  while (true) {
    const req = mailbox.receive({ timeoutMs: 1000 });
    if (!req.isOk) return;
    n += req.value.body;
    req.value.reply(n);
  }
}
function first(arg: string | null): string {
  if (arg == null) return exit<string>(\"no argument\");
  return arg;
}
export function _start(): void {
  const c = spawn(counter, <u64>5);
  if (!c.isOk) return exit(\"spawn: \" + c.error.toString());
  const server: Process<Request<u64, u64>> = c.value;
  const n = request(server, <u64>2, { timeoutMs: 1000 });
  print(first(n.isOk ? n.value.toString() : null));
  USE
}
";

#[test]
fn typed_spawn_receive_and_request_build_and_refuse_the_wrong_types() {
    let (built, said) = asc_build("typed", &TYPED_APP.replace("USE", ""));
    assert!(built && said.trim().is_empty(), "{said}");
    for (name, misuse, complaint) in [
        // The process takes requests of u64, not strings.
        (
            "wrong-message",
            "server.send(\"seven\");",
            "is not assignable",
        ),
        // A request's body is the server's body type.
        (
            "wrong-body",
            "request(server, \"seven\");",
            "is not assignable",
        ),
        // The capture is the spawned function's first parameter's type.
        (
            "wrong-capture",
            "spawn(counter, \"five\");",
            "is not assignable",
        ),
    ] {
        let (built, said) = asc_build(name, &TYPED_APP.replace("USE", misuse));
        assert!(!built, "{name} built: {said}");
        assert!(said.contains(complaint), "{name}: {said}");
    }
}
