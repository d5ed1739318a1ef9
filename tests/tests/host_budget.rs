//! What a guest makes the host hold is charged to the one who asks, and the
//! sum is bounded VM-wide (`--max-host-memory`): the attacks of issue 25,
//! written as guests the SDKs would never produce, each leave the VM under
//! its bound and the process that did nothing alive.
//!
//! The guests are WebAssembly text importing the ABI directly
//! ([`vm_abi::wat_imports`]). Memory layout they share: a tag list holding
//! 999 (a tag nobody sends) at 0, a return area at 64, names at 128, data
//! from 1024.

use vm_reference::{ExitReason, Vm, VmBuilder};
use vm_tests::test_vm;

/// The functions every guest here uses: wait for the init message, wait
/// forever (for tag 999), spawn, and tell the process registered as `root`
/// (so a root can wait until its children got somewhere, not sleep).
const WAIT: &str = r#"
  (data (i32.const 0) "\e7\03\00\00\00\00\00\00")
  (func $take_init
    (call $mailbox.receive (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 0) (i64.const 0) (i32.const 64)))
  (func $wait_forever
    (call $mailbox.receive (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 0) (i64.const 0) (i32.const 64)))
  (func (export "idle") (call $wait_forever))
  (func (export "waiter") (call $take_init) (call $wait_forever))
  ;; spawns entry (ptr, len) of this module with a capture; traps unless it
  ;; succeeds, and returns the new process's id.
  (func $spawn (param $entry i32) (param $len i32) (param $cap i32) (param $cap_len i32) (result i64)
    (call $process.spawn (i32.const 0) (local.get $entry) (local.get $len) (i32.const 0)
      (local.get $cap) (local.get $cap_len) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64))
    (if (i32.load8_u (i32.const 64)) (then unreachable))
    (i64.load (i32.const 72)))
  ;; sends an empty message to the process registered as "root" (at 144)
  (func $tell_root
    (call $registry.lookup (i32.const 144) (i32.const 4) (i32.const 64))
    (if (i32.load8_u (i32.const 64)) (then unreachable))
    (call $mailbox.send (i64.load (i32.const 72)) (i64.const 5) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 64)))
  ;; receives n messages of the given kinds (1: data, 4: down)
  (func $hear (param $kinds i32) (param $n i32)
    (loop $more
      (call $mailbox.receive (i32.const 0) (i32.const 0) (local.get $kinds) (i32.const 0) (i64.const 0) (i32.const 64))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $more (i32.gt_s (local.get $n) (i32.const 0)))))
"#;

/// A module: the ABI's imports, `pages` of memory, [`WAIT`] and `body`.
fn guest(pages: u32, body: &str) -> String {
    format!(
        "(module {imports} (memory (export \"memory\") {pages}) {WAIT} {body})",
        imports = vm_abi::wat_imports()
    )
}

/// Runs `wat` as the root process on a VM built from `builder`; returns the
/// VM (still holding whatever the root left alive) and the root's reason.
async fn run(builder: VmBuilder, wat: &str) -> (Vm, ExitReason) {
    let vm = builder.build().unwrap();
    let module = vm.load("attack.wat", wat.as_bytes()).unwrap();
    let outcome = vm.run(&module, &["attack"]).await.unwrap();
    (vm, outcome.reason)
}

fn trap_text(reason: &ExitReason) -> &str {
    match reason {
        ExitReason::Trap(t) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A fresh process still runs normally on the VM.
async fn still_runs(vm: &Vm) {
    let canary = vm
        .load(
            "canary.wat",
            guest(1, r#"(func (export "_start"))"#).as_bytes(),
        )
        .unwrap();
    let outcome = vm.run(&canary, &["canary"]).await.unwrap();
    assert_eq!(outcome.reason, ExitReason::Normal);
}

/// Issue 25's third attack: A sets 4,000 one-hour timers of 64 KiB to B.
/// They are A's to pay for, so A is refused (`send-after` has no error to
/// return, so A ends) and B, which did nothing, lives on, charged nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_are_charged_to_their_setter_so_their_target_lives() {
    let wat = guest(
        2,
        r#"(data (i32.const 128) "waiter")
        (func (export "_start") (local $victim i64) (local $i i32)
          (local.set $victim (call $spawn (i32.const 128) (i32.const 6) (i32.const 0) (i32.const 0)))
          (call $registry.register (i32.const 128) (i32.const 6) (local.get $victim) (i32.const 64))
          (loop $set
            (drop (call $timer.send-after (local.get $victim) (i64.const 1)
              (i32.const 1024) (i32.const 65536) (i64.const 3600000000000)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $set (i32.lt_u (local.get $i) (i32.const 4000)))))"#,
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    let text = trap_text(&reason);
    assert!(
        text.contains("limit-reached: setting a timer of 65536 bytes")
            && text.contains("--max-mailbox"),
        "{text}"
    );
    let victim = vm.lookup("waiter").expect("the victim is alive");
    assert_eq!(vm.process_count(), 1);
    let victim_held = vm.process_host_memory(victim).unwrap();
    assert!(victim_held < 4096, "the victim is charged {victim_held}");
    // The setter's timers ended with it: nothing is held for them.
    assert_eq!(vm.pending_timers(), 0);
    assert!(vm.host_memory_held() < 4096, "{}", vm.host_memory_held());
    still_runs(&vm).await;
}

/// Issue 25's first attack: 100 processes each hibernate holding 25 MiB.
/// Each state is charged to its process, and all of them to the VM's bound:
/// ten fit under 256 MiB, the other ninety end naming the flag (the root
/// monitors them all and waits for those ninety downs), and the VM holds no
/// more than its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernation_states_are_charged_and_bounded_vm_wide() {
    let wat = guest(
        1,
        r#"(data (i32.const 128) "sleeper")
        (data (i32.const 144) "root")
        (func (export "sleeper")
          (call $take_init)
          (drop (memory.grow (i32.const 401)))
          (call $tell_root)
          (call $process.hibernate (i32.const 128) (i32.const 7) (i32.const 0)
            (i32.const 1024) (i32.const 26214400) (i32.const 0) (i32.const 0)))
        (func (export "_start") (local $i i32)
          (call $registry.register (i32.const 144) (i32.const 4) (call $process.self-id) (i32.const 64))
          (loop $spawn
            (drop (call $process.monitor (call $spawn (i32.const 128) (i32.const 7) (i32.const 0) (i32.const 0))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $spawn (i32.lt_u (local.get $i) (i32.const 100))))
          (call $hear (i32.const 1) (i32.const 100))
          ;; the ninety that could not hibernate, ended
          (call $hear (i32.const 4) (i32.const 90)))"#,
    );
    let bound = 256 << 20;
    let root = run(test_vm().max_host_memory(bound), &wat);
    let (vm, reason) = tokio::time::timeout(std::time::Duration::from_secs(60), root)
        .await
        .expect("the root did not hear of 90 ends: more or fewer fit under the bound");
    assert_eq!(reason, ExitReason::Normal);
    vm.until_instances(0).await;
    assert_eq!(vm.process_count(), 10, "{}", vm.captured_stderr());
    let held = vm.host_memory_held();
    assert!(
        (250 << 20..=bound).contains(&held),
        "the VM holds {held} bytes"
    );
    let stderr = vm.captured_stderr();
    assert_eq!(
        stderr
            .matches("limit-reached: hibernating with a state of 26214400 bytes")
            .count(),
        90,
        "{stderr}"
    );
    assert_eq!(stderr.matches("--max-host-memory").count(), 90, "{stderr}");
    still_runs(&vm).await;
    vm.kill_all().await;
    assert_eq!(vm.host_memory_held(), 0);
}

/// Issue 25's second attack: 60 processes that never receive, each sent
/// 60 MiB. Each stays under its own limit; the VM's bound refuses the
/// sender (`limit-reached`) once the total would pass it, and every
/// receiver lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_vm_bound_are_refused_to_the_sender_and_receivers_live() {
    let wat = guest(
        2,
        r#"(data (i32.const 128) "waiter")
        (func (export "_start") (local $sink i64) (local $i i32) (local $n i32) (local $refused i32)
          ;; all the sinks first: past the VM's bound, a spawn is refused too
          (loop $sinks
            (i64.store (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 3)))
              (call $spawn (i32.const 128) (i32.const 6) (i32.const 0) (i32.const 0)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $sinks (i32.lt_u (local.get $i) (i32.const 60))))
          (local.set $i (i32.const 0))
          (loop $each
            (local.set $sink (i64.load (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $n (i32.const 0))
            (loop $flood
              (call $mailbox.send (local.get $sink) (i64.const 1) (i32.const 1024) (i32.const 65536)
                (i32.const 0) (i32.const 0) (i32.const 64))
              (if (i32.load8_u (i32.const 64))
                (then
                  ;; the only refusal allowed: limit-reached (9)
                  (if (i32.ne (i32.load8_u (i32.const 65)) (i32.const 9)) (then unreachable))
                  (local.set $refused (i32.add (local.get $refused) (i32.const 1)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $flood (i32.lt_u (local.get $n) (i32.const 960))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $each (i32.lt_u (local.get $i) (i32.const 60))))
          ;; most of 57,600 sends were refused
          (if (i32.lt_u (local.get $refused) (i32.const 40000)) (then unreachable)))"#,
    );
    let bound = 512 << 20;
    let (vm, reason) = run(test_vm().max_host_memory(bound), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    assert_eq!(vm.process_count(), 60, "{}", vm.captured_stderr());
    let held = vm.host_memory_held();
    assert!(held <= bound, "the VM holds {held} bytes");
    assert!(!vm.captured_stderr().contains("crashed"));
    still_runs(&vm).await;
    vm.kill_all().await;
    assert_eq!(vm.host_memory_held(), 0);
}

/// A capture is the spawner's until the child takes it, then the child's:
/// a process cannot park its budget's worth of captures in children that
/// never take them, and once a child takes one, the spawner may spawn again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_is_charged_to_the_spawner_until_the_child_takes_it() {
    let wat = guest(
        2,
        r#"(data (i32.const 128) "idle")
        (data (i32.const 136) "taker")
        (data (i32.const 144) "root")
        (func (export "taker") (call $take_init) (call $tell_root) (call $wait_forever))
        (func $spawn_60m (param $entry i32) (param $len i32)
          (call $process.spawn (i32.const 0) (local.get $entry) (local.get $len) (i32.const 0)
            (i32.const 1024) (i32.const 62914560) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64)))
        (func (export "_start") (local $idle i64)
          (call $registry.register (i32.const 144) (i32.const 4) (call $process.self-id) (i32.const 64))
          (drop (memory.grow (i32.const 960)))
          (local.set $idle (call $spawn (i32.const 128) (i32.const 4) (i32.const 1024) (i32.const 62914560)))
          ;; a second 60 MiB capture, with the first not taken: refused, limit-reached
          (call $spawn_60m (i32.const 128) (i32.const 4))
          (if (i32.eqz (i32.load8_u (i32.const 64))) (then unreachable))
          (if (i32.ne (i32.load8_u (i32.const 72)) (i32.const 9)) (then unreachable))
          ;; the idle child ends, and with it the capture it never took
          (drop (call $process.monitor (local.get $idle)))
          (call $process.kill (local.get $idle))
          (call $hear (i32.const 4) (i32.const 1))
          ;; a child that takes its capture pays for it from then on
          (call $spawn_60m (i32.const 136) (i32.const 5))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (call $hear (i32.const 1) (i32.const 1))
          (call $spawn_60m (i32.const 136) (i32.const 5))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (call $hear (i32.const 1) (i32.const 1)))"#,
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    assert_eq!(vm.process_count(), 2);
}

/// An exit reason is cut to 1 KiB as it leaves its process, so what a
/// link or monitor receives is bounded whatever the child exits with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_reasons_are_capped_as_they_leave_their_process() {
    let wat = guest(
        4,
        r#"(data (i32.const 128) "big")
        (func (export "big") (call $take_init)
          (call $process.exit (i32.const 1024) (i32.const 131072)))
        (func (export "_start")
          (drop (call $process.trap-exits (i32.const 1)))
          (call $process.spawn (i32.const 0) (i32.const 128) (i32.const 3) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          ;; the link's exit message
          (call $mailbox.receive (i32.const 0) (i32.const 0) (i32.const 2) (i32.const 0) (i64.const 0) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          ;; its size: the reason code and at most 1,024 bytes of text
          (if (i32.gt_u (i32.load (i32.const 96)) (i32.const 1025)) (then unreachable))
          (if (i32.lt_u (i32.load (i32.const 96)) (i32.const 1000)) (then unreachable)))"#,
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
}

/// Names are charged to whoever registers them: a process that names
/// another many times uses up its own budget, not the other's, and the
/// other can still register a name of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_charged_to_the_registrant_not_the_process_named() {
    let wat = guest(
        1,
        r#"(data (i32.const 128) "mine")
        (data (i32.const 136) "name-0000")
        (func (export "named")
          (call $take_init)
          ;; told to go ahead, registers a name of its own and replies
          (call $mailbox.receive (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const 0) (i32.const 64))
          (call $registry.register (i32.const 128) (i32.const 4) (call $process.self-id) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (call $mailbox.send (i64.load (i32.const 88)) (i64.const 2) (i32.const 0) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 64))
          (call $wait_forever))
        (func (export "_start") (local $b i64) (local $i i32)
          (local.set $b (call $spawn (i32.const 160) (i32.const 5) (i32.const 0) (i32.const 0)))
          (block $full
            (loop $name
              ;; name-NNNN, the digits from $i
              (i32.store8 (i32.const 141) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 1000)) (i32.const 10))))
              (i32.store8 (i32.const 142) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 100)) (i32.const 10))))
              (i32.store8 (i32.const 143) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 10)) (i32.const 10))))
              (i32.store8 (i32.const 144) (i32.add (i32.const 48) (i32.rem_u (local.get $i) (i32.const 10))))
              (call $registry.register (i32.const 136) (i32.const 9) (local.get $b) (i32.const 64))
              (br_if $full (i32.load8_u (i32.const 64)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $name (i32.lt_u (local.get $i) (i32.const 10000)))))
          ;; refused before 10,000, with limit-reached
          (if (i32.ge_u (local.get $i) (i32.const 10000)) (then unreachable))
          (if (i32.ne (i32.load8_u (i32.const 65)) (i32.const 9)) (then unreachable))
          ;; room for the reply to come (a message is its receiver's to pay
          ;; for): give back name-0000 and name-0001
          (i32.store (i32.const 141) (i32.const 0x30303030))
          (call $registry.unregister (i32.const 136) (i32.const 9) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (i32.store (i32.const 141) (i32.const 0x31303030))
          (call $registry.unregister (i32.const 136) (i32.const 9) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (call $mailbox.send (local.get $b) (i64.const 1) (i32.const 0) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 64))
          (call $mailbox.receive (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const 0) (i32.const 64)))
        (data (i32.const 160) "named")"#,
    );
    let (vm, reason) = run(test_vm().max_mailbox(16 << 10), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    let named = vm
        .lookup("mine")
        .expect("the named process registered itself");
    assert!(vm.process_host_memory(named).unwrap() < 4096);
}

/// `load-module` compiles the same bytes once: fifty loads make one
/// module, charged once, alive while a process spawned from it lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_the_same_module_again_compiles_and_charges_nothing_more() {
    let inner = wat::parse_str(guest(1, "")).unwrap();
    let escaped: String = inner.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = guest(
        4,
        &format!(
            r#"(data (i32.const 128) "idle")
            (data (i32.const 1024) "{escaped}")
            (func (export "_start") (local $i i32) (local $h i32)
              (loop $load
                (call $process.load-module (i32.const 1024) (i32.const {len}) (i32.const 64))
                (if (i32.load8_u (i32.const 64)) (then unreachable))
                (local.set $h (i32.load (i32.const 68)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $load (i32.lt_u (local.get $i) (i32.const 50))))
              (call $process.spawn (local.get $h) (i32.const 128) (i32.const 4) (i32.const 0)
                (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64))
              (if (i32.load8_u (i32.const 64)) (then unreachable)))"#,
            len = inner.len()
        ),
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    assert_eq!(vm.loaded_modules(), 1);
    // The child holds the module; its loader, which paid, is gone, and the
    // module's charge stays until the module is.
    assert!(vm.host_memory_held() > inner.len());
    vm.kill_all().await;
    assert_eq!(vm.loaded_modules(), 0);
    assert_eq!(vm.host_memory_held(), 0);
}

/// A process holds at most `--max-sockets` sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_process_are_capped_by_a_flag() {
    let wat = guest(
        1,
        r#"(data (i32.const 128) "127.0.0.1:0")
        (func $bind (result i32)
          (call $net.bind (i32.const 128) (i32.const 11) (i32.const 64))
          (i32.load8_u (i32.const 64)))
        (func (export "_start")
          (if (call $bind) (then unreachable))
          (if (call $bind) (then unreachable))
          (if (i32.eqz (call $bind)) (then unreachable))
          (if (i32.ne (i32.load8_u (i32.const 68)) (i32.const 9)) (then unreachable))
          ;; the text names the flag
          (drop (call $version.last-error (i32.const 1024) (i32.const 1024)))
          (call $process.exit (i32.const 1024) (i32.const 400)))"#,
    );
    let builder = test_vm()
        .max_sockets(2)
        .allow_net(vm_reference::NetRule::parse("127.0.0.1").unwrap());
    let (_vm, reason) = run(builder, &wat).await;
    match reason {
        ExitReason::Exit(t) => assert!(t.contains("--max-sockets"), "{t}"),
        other => panic!("{other:?}"),
    }
}

/// `version.last-error` keeps at most 1 KiB, whatever a call quoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_error_text_is_capped() {
    let wat = guest(
        4,
        r#"(func (export "_start")
          (memory.fill (i32.const 1024) (i32.const 97) (i32.const 100000))
          ;; an entry name of 100,000 bytes the module lacks
          (call $process.spawn (i32.const 0) (i32.const 1024) (i32.const 100000) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64))
          (if (i32.eqz (i32.load8_u (i32.const 64))) (then unreachable))
          (if (i32.gt_u (call $version.last-error (i32.const 1024) (i32.const 200000)) (i32.const 1024))
            (then unreachable)))"#,
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
}

/// Handles a hibernating process does not name are closed: nothing could
/// reach them, and they are no longer charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_not_named_in_hibernate_are_closed() {
    let wat = guest(
        1,
        r#"(data (i32.const 128) "127.0.0.1:0")
        (data (i32.const 160) "sleeper")
        (data (i32.const 144) "root")
        (func (export "sleeper")
          (call $take_init)
          (call $net.bind (i32.const 128) (i32.const 11) (i32.const 64))
          (if (i32.load8_u (i32.const 64)) (then unreachable))
          (call $registry.register (i32.const 160) (i32.const 7) (call $process.self-id) (i32.const 64))
          (call $tell_root)
          (call $process.hibernate (i32.const 160) (i32.const 7) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (func (export "_start")
          (call $registry.register (i32.const 144) (i32.const 4) (call $process.self-id) (i32.const 64))
          (drop (call $spawn (i32.const 160) (i32.const 7) (i32.const 0) (i32.const 0)))
          (call $hear (i32.const 1) (i32.const 1)))"#,
    );
    let builder = test_vm().allow_net(vm_reference::NetRule::parse("127.0.0.1").unwrap());
    let (vm, reason) = run(builder, &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    vm.until_instances(0).await;
    let sleeper = vm.lookup("sleeper").expect("it hibernated");
    // Its empty state and the record of it; no socket.
    let held = vm.process_host_memory(sleeper).unwrap();
    assert!(
        held < 512,
        "a hibernated process with no handles holds {held}"
    );
}

/// Forgetting tags without end (`mailbox.forget-tag`) holds at most the
/// newest 1,024, each charged to the process: 200,000 forgotten tags cost
/// what 1,024 do, and all is given back when the process ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_tags_are_charged_and_bounded_per_process() {
    let wat = guest(
        1,
        r#"(data (i32.const 128) "forgetter")
        (data (i32.const 144) "root")
        (func (export "forgetter") (local $i i64)
          (call $take_init)
          (loop $forget
            (call $mailbox.forget-tag (local.get $i) (i32.const 64))
            (if (i32.load8_u (i32.const 64)) (then unreachable))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br_if $forget (i64.lt_u (local.get $i) (i64.const 200000))))
          (call $tell_root)
          (call $wait_forever))
        (func (export "_start")
          (call $registry.register (i32.const 144) (i32.const 4) (call $process.self-id) (i32.const 64))
          (drop (call $spawn (i32.const 128) (i32.const 9) (i32.const 0) (i32.const 0)))
          (call $hear (i32.const 1) (i32.const 1)))"#,
    );
    let (vm, reason) = run(test_vm(), &wat).await;
    assert_eq!(reason, ExitReason::Normal, "{}", vm.captured_stderr());
    // The forgetter waits, holding its forgotten tags (and its module).
    let held = vm.host_memory_held();
    assert!(held < 1024 * 1024, "the VM holds {held} bytes");
    assert!(held >= 1024 * 48, "the VM holds {held} bytes");
    vm.kill_all().await;
    assert_eq!(vm.host_memory_held(), 0);
}
