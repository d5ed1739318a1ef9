//! Erlang semantics through the Rust SDK: each scenario guest prints what it
//! observed, and the test pins it line by line.

use vm_reference::ExitReason;
use vm_tests::{run_file, run_file_on, rust_guest, test_vm, Run};

async fn scenario(name: &str) -> Run {
    let run = run_file(&rust_guest("scenarios"), &[name]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Normal,
        "{name}: stderr: {}",
        run.stderr
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_report_each_exit_reason_and_noproc() {
    assert_eq!(
        scenario("monitor").await.stdout,
        "normal: Normal from it\n\
         crash: Trap(panicked at scenarios/src/main.rs: on purpose) from it\n\
         custom: Exit(\"custom reason\") from it\n\
         ended: NoProc\n\
         demonitored: Some(Timeout)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_propagate_failures_unless_exits_are_trapped() {
    assert_eq!(
        scenario("links").await.stdout,
        "middle ended: Trap(panicked at scenarios/src/main.rs: child fails)\n\
         parent still alive\n\
         trapped exit from child: true Exit(\"bye\")\n\
         after unlink: Some(Timeout)\n\
         link to ended: Err(Some(NotFound))\n\
         link to ended while trapping: Ok(()) then Ok(\"NoProc\")\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_even_a_busy_loop() {
    assert_eq!(
        scenario("kill").await.stdout,
        "killed: Killed\nsecond kill: ok\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_loops_do_not_starve_other_processes() {
    assert_eq!(
        scenario("preemption").await.stdout,
        "echoed 20 times beside 4 busy loops: 20\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_names_are_unique_and_vanish_with_their_process() {
    assert_eq!(
        scenario("registry").await.stdout,
        "lookup root: true\n\
         second register: Some(AlreadyRegistered)\n\
         worker registered\n\
         lookup worker: true\n\
         after worker ended: None\n\
         unregister twice: Err(Some(NotFound))\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_deliver_later_and_cancel() {
    assert_eq!(
        scenario("timer").await.stdout,
        "before: Some(Timeout)\nafter: Ok(\"late\")\ncancelled: true\nthen: Ok(\"later\")\nnothing else: Some(Timeout)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_matches_the_reply_by_tag() {
    assert_eq!(
        scenario("request").await.stdout,
        "21 * 2 = 42\n\
         left in the mailbox: 999\n\
         no reply: Some(Timeout)\n\
         server crashed: Err(\"Trap(panicked at scenarios/src/main.rs: on purpose)\")\n\
         server gone: Some(Down(NoProc))\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_receive_leaves_other_messages_in_order() {
    assert_eq!(
        scenario("selective").await.stdout,
        "(3, \"three\")\n(1, \"one\")\n(2, \"two\")\nSome(Timeout)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_the_wrong_type_is_a_decode_error_with_its_bytes() {
    assert_eq!(
        scenario("decode-error").await.stdout,
        "decode error keeps the bytes: [2, 255, 254] from self: true\ntimeout: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_every_size_arrive_whole() {
    let expected: String = [0, 1, 61, 62, 63, 64, 65, 200, 70_000]
        .iter()
        .map(|n| format!("{n}: typed true, raw true\n"))
        .collect();
    assert_eq!(
        scenario("message-sizes").await.stdout,
        expected + "capture of 300 bytes\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_a_bad_module_at_run_time_is_an_error_value() {
    assert_eq!(
        scenario("load-module").await.stdout,
        "garbage: Some(ModuleInvalid)\nempty module loads; spawning a missing export: Err(true)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_with_a_reason_sets_the_root_outcome() {
    let run = run_file(&rust_guest("scenarios"), &["exit"]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Exit("the root chose to stop".into())
    );
    assert_eq!(run.outcome.status, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_over_its_memory_limit_fails_with_a_reason_that_says_so() {
    let run = run_file_on(
        test_vm().max_memory(4 << 20),
        &rust_guest("scenarios"),
        &["memory-hog"],
    )
    .await
    .unwrap();
    let ExitReason::Trap(text) = &run.outcome.reason else {
        panic!("expected a trap, got {:?}", run.outcome.reason);
    };
    assert!(text.contains("memory limit exceeded"), "{text}");
    assert!(text.contains("limit of 4194304 bytes"), "{text}");
    assert!(text.contains("--max-memory"), "{text}");
    assert!(run.stdout.contains("holding 1 MiB"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_out_of_stack_traps_with_a_reason_naming_the_limit() {
    let run = scenario_args(test_vm(), &["stack"]).await;
    assert_eq!(
        run.stdout,
        "child: call stack exhausted: the process's calls nested deeper than its stack \
         limit of 262144 bytes (raise it with --max-stack)\n\
         caller carries on\n"
    );
    // A recursion well within the limit runs.
    let run = scenario_args(test_vm(), &["stack", "1000"]).await;
    assert!(run.stdout.starts_with("result: "), "{}", run.stdout);
    assert!(run.stdout.contains("child: Normal\n"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_stack_sets_how_deep_a_process_may_recurse() {
    // 50,000 calls need more than the default 256 KiB of stack...
    let run = scenario_args(test_vm(), &["stack", "50000"]).await;
    assert!(
        run.stdout.contains("child: call stack exhausted"),
        "{}",
        run.stdout
    );
    // ...and fit in 4 MiB.
    let run = scenario_args(test_vm().max_stack(4 << 20), &["stack", "50000"]).await;
    assert!(run.stdout.contains("child: Normal\n"), "{}", run.stdout);
}

async fn scenario_args(vm: vm_reference::VmBuilder, args: &[&str]) -> Run {
    let run = run_file_on(vm, &rust_guest("scenarios"), args)
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_to_a_process_that_ended_are_cancelled() {
    let vm = test_vm().build().unwrap();
    let module = vm.load_file(rust_guest("scenarios")).unwrap();
    let outcome = vm
        .run(&module, &["scenarios", "timers-of-the-dead"])
        .await
        .unwrap();
    assert_eq!(
        outcome.reason,
        ExitReason::Normal,
        "{}",
        vm.captured_stderr()
    );
    assert_eq!(vm.captured_stdout(), "target ended\n");
    // 1,001 timers of an hour each were set for the target.
    assert_eq!(vm.pending_timers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_at_most_255_bytes_and_a_process_may_hold_many() {
    assert_eq!(
        scenario("name-limits").await.stdout,
        "17th name: Ok(())\n\
         256-byte name: Err(Some(InvalidArgument))\n\
         255-byte name after freeing one: Ok(())\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_are_freed_when_their_down_is_received_and_when_the_watcher_ends() {
    let churn = vm_tests::Running::start(test_vm(), &rust_guest("scenarios"), &["monitor-churn"]);
    churn.line_after("ready").await;
    // 4,000 monitors were set; the root is still alive, waiting.
    let vm = &churn.vm;
    assert_eq!(vm.monitor_count(), 0, "{}", vm.captured_stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_signal_ends_a_process_or_arrives_as_a_message_when_trapped() {
    assert_eq!(
        scenario("send-exit").await.stdout,
        "not trapping: Exit(\"shutdown\")\n\
         normal ignored: still answers Ok(7)\n\
         trapping\n\
         trapped: from parent: true Exit(\"please stop\")\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_reads_the_abi_version_the_vm_serves() {
    let (major, minor, patch) = vm_abi::ABI_VERSION;
    assert_eq!(
        scenario("abi-version").await.stdout,
        format!("serves {major}.{minor}.{patch}, built for ({major}, {minor}, {patch})\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answers_calls_and_casts_defers_replies_and_terminates_in_order() {
    assert_eq!(
        scenario("server").await.stdout,
        "call after cast: Ok(42)\n\
         a stray message of a call's shape: Ok(42)\n\
         init failed: unlucky\n\
         registered: Ok(2) (same process: true)\n\
         name taken: true\n\
         a request dropped unanswered: Err(NoReply)\n\
         by name: Ok(2)\n\
         reply deferred until a down: Ok(42)\n\
         terminate: Exit(\"asked to stop\")\n\
         stop: Ok(42), then Exit(\"asked to stop\")\n\
         call to a stopped server: Err(Down(NoProc))\n\
         crash: true\n\
         by name, none holding it: Err(Down(NoProc))\n\
         by name, a new holder: Ok(7) (new process: true)\n\
         terminate: Exit(\"shutdown\")\n\
         shut down by its starter: Exit(\"shutdown\")\n\
         its link reports: Exit(\"shutdown\")\n\
         a hibernating server keeps its state across wakes: Ok((42, 3))\n\
         typed asks: Ok(4) Ok(\"UP\")\n\
         a call that gave up: Err(Timeout); the next: Ok(8)\n\
         nothing left over: true\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_restart_by_strategy_and_policy_within_their_intensity() {
    let run = scenario("supervisor").await;
    // A supervisor that gives up says so.
    assert!(
        run.stderr.contains(
            "is past its restart intensity: it stops its children and ends with reason `shutdown`"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout,
        "one-for-one, w2 killed: w1 kept, w2 restarted, w3 kept\n\
         one-for-all, w1 killed: w1 restarted, w2 restarted, w3 restarted\n\
         rest-for-one, w2 killed: w1 kept, w2 restarted, w3 restarted\n\
         after a normal stop of permanent and transient, a shutdown with a term of transient-done and a kill of temporary: permanent: true, transient: false, transient-done: false\n\
         a second restart in a minute with an intensity of 1: Exit(\"shutdown\"); w1-w3 registered: false\n\
         nested: inner supervisor killed: w1 restarted (inner restarted: true)\n\
         outer shut down: Exit(\"shutdown\"); w1 registered: false\n\
         a restart that fails is retried: flaky: true\n\
         a child that ignores the shutdown signal: Killed\n\
         a transient child that ended normally before its start returned: Ok(\"brief: false\"), started again: false\n\
         start_link of a supervisor whose child fails: Err(Child(\"db\", \"no database\"))\n\
         and its caller lives on\n"
    );
}

/// A message a hibernated server ignores (`Next::Same`, what the default
/// handlers return) leaves it asleep: each call finds a fresh instance,
/// the stray message before it having woken one that slept again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_a_hibernated_server_ignores_leaves_it_asleep() {
    let run = scenario("hibernate-same").await;
    assert_eq!(
        run.stdout,
        "call 1: 0 ignored before it; the first its instance handles: true\n\
         call 2: 1 ignored before it; the first its instance handles: true\n\
         call 3: 2 ignored before it; the first its instance handles: true\n"
    );
}

/// A hibernated process woken while every instance is taken waits for one
/// (it used to end with `limit-reached`, its state lost), and wakes once
/// the process holding the slot ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_woken_into_a_full_instance_pool_waits_for_a_slot() {
    let vm = test_vm().max_instances(1).build().unwrap();
    let module = vm.load_file(rust_guest("scenarios")).unwrap();
    let sleeper = vm.run(&module, &["scenarios", "hibernate-sleeper"]);
    tokio::pin!(sleeper);
    // Until it is asleep: registered, and holding no instance.
    tokio::select! {
        outcome = &mut sleeper => panic!("the sleeper ended: {outcome:?}"),
        () = async {
            while vm.lookup("sleeper").is_none() {
                tokio::task::yield_now().await;
            }
            vm.until_instances(0).await;
        } => {}
    }
    let waker = vm.run(&module, &["scenarios", "hibernate-waker"]);
    tokio::pin!(waker);
    // The sleeper, woken while the waker holds the only instance, waits for
    // it (it used to end at once, with limit-reached).
    let waited = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::select! {
            outcome = &mut waker => panic!("the waker ended: {outcome:?}"),
            outcome = &mut sleeper => panic!("the sleeper ended: {outcome:?} {}", vm.captured_stderr()),
            () = async {
                while vm.waiting_for_instance() == 0 {
                    tokio::task::yield_now().await;
                }
            } => {}
        }
    })
    .await;
    assert!(waited.is_ok(), "the sleeper never waited for an instance");
    vm.kill(vm.lookup("waker").expect("the waker is registered"));
    assert_eq!(waker.await.unwrap().reason, ExitReason::Killed);
    let slept = sleeper.await.unwrap();
    assert_eq!(slept.reason, ExitReason::Normal, "{}", vm.captured_stderr());
    assert_eq!(vm.waiting_for_instance(), 0);
    assert_eq!(
        vm.captured_stdout(),
        "the sleeper woke for \"a message sent while every instance was taken\"\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernated_process_keeps_its_identity_links_monitors_and_sockets() {
    let vm = test_vm().allow_net(vm_reference::NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &rust_guest("scenarios"), &["hibernate"])
        .await
        .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "woke for each message, state kept: [1, 3, 6]\n\
         its name and id kept: true\n\
         killed while hibernated: Killed\n\
         a hibernated process linked to a crash ends with it: true\n\
         woke with an exit: Exit(\"please wake\")\n\
         woke for its own timer: tick\n\
         a socket held across hibernation echoes: [\"first\\n\", \"second\\n\"]\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernated_processes_hold_no_instance() {
    let sleepers = vm_tests::Running::start(
        test_vm(),
        &rust_guest("scenarios"),
        &["hibernate-many", "200"],
    );
    sleepers.line_after("ready").await;
    let vm = &sleepers.vm;
    // 200 processes alive, and only the root has an instance.
    // A guard, not a wait: the VM says when instances end.
    let hibernated =
        tokio::time::timeout(std::time::Duration::from_secs(60), vm.until_instances(1)).await;
    assert!(
        hibernated.is_ok(),
        "{} instances remain",
        vm.instance_count()
    );
    assert_eq!(vm.process_count(), 201, "{}", vm.captured_stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernated_processes_need_no_slot_of_the_instance_pool() {
    // 200 hibernated processes on a VM whose pool holds sixteen instances:
    // the root, one process going to sleep, the next one starting, and room
    // for a few that are slow to finish going to sleep on a loaded machine.
    let sleepers = vm_tests::Running::start(
        test_vm().max_processes(300).max_instances(16),
        &rust_guest("scenarios"),
        &["hibernate-many", "200"],
    );
    sleepers.line_after("ready").await;
    let vm = &sleepers.vm;
    let hibernated =
        tokio::time::timeout(std::time::Duration::from_secs(60), vm.until_instances(1)).await;
    assert!(
        hibernated.is_ok(),
        "{} instances remain",
        vm.instance_count()
    );
    assert_eq!(vm.process_count(), 201, "{}", vm.captured_stderr());
}

#[tokio::test]
async fn a_process_past_the_instance_limit_ends_naming_the_flag() {
    let vm = test_vm().max_instances(1).build().unwrap();
    let spin = r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#;
    let spin = vm.load("spin.wat", spin.as_bytes()).unwrap();
    let spinning = vm.run(&spin, &["spin"]);
    tokio::pin!(spinning);
    // The spinner holds the only instance once the count says so.
    tokio::select! {
        outcome = &mut spinning => panic!("the spinner ended: {outcome:?}"),
        () = async { while vm.instance_count() == 0 { tokio::task::yield_now().await } } => {}
    }
    let second = vm
        .load("second.wat", b"(module (func (export \"_start\")))")
        .unwrap();
    let outcome = vm.run(&second, &["second"]).await.unwrap();
    match &outcome.reason {
        ExitReason::Trap(t) => assert!(
            t.contains("limit-reached") && t.contains("--max-instances"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
    let ((), spun) = tokio::join!(vm.kill_all(), spinning);
    assert_eq!(spun.unwrap().reason, ExitReason::Killed);
}

/// Killing every process ends them all, even while one spawns without
/// pause: a process started while the kill is under way is killed too (a
/// test run by `vm test` starts only once the one before has ended whole).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_every_process_ends_even_those_spawned_while_it_runs() {
    let vm = test_vm().build().unwrap();
    let module = vm.load_file(rust_guest("scenarios")).unwrap();
    for round in 0..20 {
        let storm = vm.run(&module, &["scenarios", "spawn-storm"]);
        tokio::pin!(storm);
        // Killed while it spawns: once it has spawned a few.
        tokio::select! {
            outcome = &mut storm => panic!("the storm ended: {outcome:?}"),
            () = async { while vm.process_count() < 10 + round { tokio::task::yield_now().await } } => {}
        }
        let (killed, outcome) = tokio::join!(
            tokio::time::timeout(std::time::Duration::from_secs(30), vm.kill_all()),
            storm
        );
        assert!(
            killed.is_ok(),
            "round {round}: {} processes outlived the kill",
            vm.process_count()
        );
        assert_eq!(outcome.unwrap().reason, ExitReason::Killed);
        assert_eq!(vm.process_count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_cluster_the_vm_is_node_zero_alone_and_global_names_are_its_own() {
    assert_eq!(
        scenario("node-local").await.stdout,
        "self 0 up [Node(0)] name Some(\"local\")\n\
         node 7 name None\n\
         node 7 down at once: NoConnection, from its id: true\n\
         global again: Some(AlreadyRegistered)\n\
         global is not the registry: None\n\
         lookup global: true\n\
         another node's process: Err(Some(NotFound))\n\
         after unregister: None, again: Err(Some(NotFound))\n"
    );
}
