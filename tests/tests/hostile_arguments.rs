//! Every host function, called with hostile arguments: pointers past the end
//! of memory, huge lengths, misaligned return pointers, unknown handles and
//! ids. Whatever a call does to its caller (fail, trap, block), the VM keeps
//! running and runs the next process normally.
//!
//! The cases are generated from the ABI manifest, so a function added to the
//! ABI is covered without touching this file.
//!
//! A panic inside the VM is a bug even though the VM survives it (the
//! process it served ends with a reason that says so): every panic on any
//! thread is counted, and any fails the test.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::time::Duration;
use vm_abi::{CoreType, FunctionSpec, FUNCTIONS};
use vm_reference::ExitReason;
use vm_tests::{panics, test_vm};

#[derive(Debug, Clone)]
enum Arg {
    I32(u32),
    I64(u64),
}

fn edge_i32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(7),
        Just(65_528),
        Just(65_535),
        Just(65_536),
        Just(u32::MAX),
        Just(u32::MAX - 3),
        any::<u32>(),
        0u32..70_000,
    ]
}

fn edge_i64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(u64::MAX),
        Just(1 << 63),
        any::<u64>()
    ]
}

fn args(spec: &FunctionSpec) -> BoxedStrategy<Vec<Arg>> {
    let parts: Vec<BoxedStrategy<Arg>> = spec
        .params
        .iter()
        .map(|t| match t {
            CoreType::I32 => edge_i32().prop_map(Arg::I32).boxed(),
            CoreType::I64 => edge_i64().prop_map(Arg::I64).boxed(),
            CoreType::F32 | CoreType::F64 => unreachable!("no vm:host function takes a float"),
        })
        .collect();
    parts.boxed()
}

fn wat(spec: &FunctionSpec, args: &[Arg]) -> String {
    let ty = |t: &CoreType| match t {
        CoreType::I32 => "i32",
        CoreType::I64 => "i64",
        CoreType::F32 => "f32",
        CoreType::F64 => "f64",
    };
    let params: Vec<_> = spec.params.iter().map(ty).collect();
    let results: Vec<_> = spec.results.iter().map(ty).collect();
    let consts: Vec<_> = args
        .iter()
        .map(|a| match a {
            Arg::I32(v) => format!("(i32.const {})", *v as i32),
            Arg::I64(v) => format!("(i64.const {})", *v as i64),
        })
        .collect();
    let drops = "(drop)".repeat(results.len());
    format!(
        r#"(module
            (import "{m}" "{n}" (func $f (param {p}) (result {r})))
            (memory (export "memory") 1)
            (func (export "_start") (call $f {a}) {drops}))"#,
        m = spec.module,
        n = spec.name,
        p = params.join(" "),
        r = results.join(" "),
        a = consts.join(" "),
    )
}

const CANARY: &str = r#"(module
    (import "vm:host/process@1" "self-id" (func $id (result i64)))
    (memory (export "memory") 1)
    (func (export "_start") (drop (call $id))))"#;

async fn survives(spec: &FunctionSpec, args: &[Arg]) -> Result<(), TestCaseError> {
    // A case that failed early left its panics counted.
    panics::take();
    let vm = test_vm().max_processes(16).build().unwrap();
    let hostile = vm.load("hostile.wat", wat(spec, args).as_bytes()).unwrap();
    let canary = vm.load("canary.wat", CANARY.as_bytes()).unwrap();
    // A call may block its caller for good (a receive without timeout); that
    // is the caller's business, so it gets a deadline here, not a verdict.
    let hostile_run =
        tokio::time::timeout(Duration::from_millis(200), vm.run(&hostile, &["hostile"])).await;
    if let Ok(outcome) = hostile_run {
        // Lost would mean the process task panicked inside the VM.
        prop_assert!(
            outcome.is_ok(),
            "{}.{}{args:?}: {outcome:?}",
            spec.module,
            spec.name
        );
        let reason = outcome.unwrap().reason.to_string();
        prop_assert!(
            !reason.contains("bug in the VM"),
            "{}.{}{args:?}: {reason}",
            spec.module,
            spec.name
        );
    }
    // The VM still runs processes normally afterwards. (A process started
    // beside the hostile one would not prove this: linking to it or killing
    // it by id are legitimate calls.)
    let canary_outcome = vm.run(&canary, &["canary"]).await.unwrap();
    prop_assert_eq!(
        &canary_outcome.reason,
        &ExitReason::Normal,
        "{}.{}{:?}",
        spec.module,
        spec.name,
        args
    );
    // Ending the hostile process (a kill in the middle of its call, if it
    // still waits) is part of what must not panic.
    vm.shutdown().await;
    prop_assert_eq!(
        panics::take(),
        0,
        "{}.{}{:?} panicked inside the VM (the panic is printed above)",
        spec.module,
        spec.name,
        args
    );
    Ok(())
}

#[test]
fn no_hostile_argument_to_any_host_function_harms_the_vm_or_another_process() {
    panics::watch();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for spec in FUNCTIONS {
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&args(spec), |args| rt.block_on(survives(spec, &args)))
            .unwrap_or_else(|e| panic!("{}.{}: {e}", spec.module, spec.name));
    }
}

#[test]
fn the_vm_defines_every_manifest_function_with_its_manifest_signature() {
    // Importing every function with the manifest's signature links only if the
    // VM defines each one with exactly that signature.
    let imports = vm_abi::wat_imports();
    let wat =
        format!("(module {imports} (memory (export \"memory\") 1) (func (export \"_start\")))");
    let vm = test_vm().build().unwrap();
    vm.load("all-imports.wat", wat.as_bytes())
        .expect("every manifest function links");
}
