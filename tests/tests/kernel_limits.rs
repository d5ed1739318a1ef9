//! Running out of the kernel's memory mappings is explained, with what to
//! raise. These tests exhaust (or nearly exhaust) a limit that is per
//! process, so they live in a test binary of their own: beside other tests,
//! a worker thread elsewhere could not map its signal stack.

use vm_reference::{ExitReason, Vm};
use vm_tests::{run_file_on, rust_guest, test_vm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_kernel_mappings_is_explained_to_the_spawner() {
    // 30,000 slots reserve about 60,000 mappings, so at Linux's default
    // vm.max_map_count (65,530) a process soon cannot be mapped; its linked
    // spawner learns why and what to run. With a raised limit the same run
    // ends at the process limit instead.
    let limit = max_map_count();
    let run = run_file_on(
        test_vm().max_processes(30_000),
        &rust_guest("scenarios"),
        &["until-refused"],
    )
    .await
    .unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    if limit <= 65_530 {
        assert!(
            run.stdout.contains("a process could not start"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("vm.max_map_count"), "{}", run.stdout);
        assert!(
            run.stdout.contains("sudo sysctl -w vm.max_map_count="),
            "{}",
            run.stdout
        );
    } else {
        assert!(run.stdout.contains("LimitReached"), "{}", run.stdout);
    }
}

#[test]
fn a_pool_too_large_for_the_kernel_is_refused_with_what_to_raise() {
    // 200,000 slots map about 400,000 regions as the pool is reserved, and
    // up to 1,210,000 with every slot in use.
    let limit = max_map_count();
    match Vm::builder().max_processes(200_000).build() {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("vm.max_map_count"), "{text}");
            assert!(text.contains("sysctl -w vm.max_map_count="), "{text}");
            assert!(text.contains("--max-processes"), "{text}");
            assert!(
                limit < 1_210_000,
                "refused although vm.max_map_count is {limit}: {text}"
            );
        }
        Ok(vm) => {
            assert!(
                limit >= 400_000,
                "a pool of 200,000 slots was reserved within vm.max_map_count {limit}"
            );
            assert_eq!(vm.process_count(), 0);
        }
    }
}

fn max_map_count() -> u64 {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
