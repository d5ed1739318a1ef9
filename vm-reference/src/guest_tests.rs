//! `vm test`: runs the tests a guest declared with `#[vm_sdk::test]`, each
//! in a process of its own, and reports them as libtest does.
//!
//! A test is an export named `vm-test:FLAGS:PATH` (see the `vm-sdk-macros`
//! crate): `FLAGS` is empty, `ignore`, `panic` or `panic=HEX` (a
//! `should_panic` with its expected text in hex). Every test runs in the
//! same VM, one after another: the module is compiled once, and between
//! tests every process is killed, so names, timers and processes a test
//! leaves behind cannot reach the next. A test passes when its process
//! ends normally (or, for `should_panic`, when it traps, with the expected
//! text in its output); a test that runs past the timeout is killed and
//! fails.

use crate::{ExitReason, VmBuilder};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The prefix of a test's export name.
const PREFIX: &str = "vm-test:";

/// Which tests to run and how, as libtest's arguments say.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Run tests whose path contains one of these (all if empty).
    pub filters: Vec<String>,
    /// Filters match whole paths only.
    pub exact: bool,
    /// Run only the ignored tests (the others count as filtered out).
    pub ignored_only: bool,
    /// Run the ignored tests too.
    pub include_ignored: bool,
    /// How long a test may run before it is killed and fails.
    pub timeout: Duration,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            filters: Vec::new(),
            exact: false,
            ignored_only: false,
            include_ignored: false,
            timeout: Duration::from_secs(60),
        }
    }
}

impl TestOptions {
    /// Reads libtest's arguments: `--ignored`, `--include-ignored`,
    /// `--exact`, and filters; other flags (`--nocapture`,
    /// `--test-threads=N`, …) are accepted and do nothing here.
    pub fn from_args(args: &[String]) -> TestOptions {
        let mut options = TestOptions::default();
        for arg in args {
            match arg.as_str() {
                "--ignored" => options.ignored_only = true,
                "--include-ignored" => options.include_ignored = true,
                "--exact" => options.exact = true,
                a if a.starts_with('-') => {}
                filter => options.filters.push(filter.to_string()),
            }
        }
        options
    }

    fn selects(&self, path: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| {
                if self.exact {
                    path == f
                } else {
                    path.contains(f.as_str())
                }
            })
    }
}

/// A test found in the module.
struct GuestTest {
    export: String,
    path: String,
    ignore: bool,
    /// `Some` for `should_panic`, with the text expected in its output.
    panic: Option<String>,
}

fn parse(export: &str) -> Option<GuestTest> {
    let rest = export.strip_prefix(PREFIX)?;
    let (flags, path) = rest.split_once(':')?;
    let hex_text = |hex: &str| -> String {
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let (ignore, panic) = match flags {
        "" => (false, None),
        "ignore" => (true, None),
        "panic" => (false, Some(String::new())),
        f => match f.strip_prefix("panic=") {
            Some(hex) => (false, Some(hex_text(hex))),
            None => return None,
        },
    };
    Some(GuestTest {
        export: export.to_string(),
        path: path.to_string(),
        ignore,
        panic,
    })
}

/// Whether the module at `path` declares `#[vm_sdk::test]` tests (a
/// `cargo test` build), read from its exports without compiling it.
///
/// # Errors
/// The file cannot be read or is not a module.
pub fn has_guest_tests(path: &Path) -> anyhow::Result<bool> {
    let bytes = std::fs::read(path)?;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::ExportSection(exports) = payload? {
            for export in exports {
                if export?.name.starts_with(PREFIX) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Runs the tests in the module at `path` on a VM from `builder`, writing
/// libtest's report to `out`; returns whether every test that ran passed.
///
/// # Errors
/// The module cannot be read, loaded, or has no tests.
pub async fn run_guest_tests(
    builder: VmBuilder,
    path: &Path,
    options: &TestOptions,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let vm = builder.capture_output().build()?;
    let module = vm.load_file(path)?;
    let mut tests: Vec<GuestTest> = module.entry_names().filter_map(parse).collect();
    if tests.is_empty() {
        anyhow::bail!(
            "{} holds no #[vm_sdk::test] tests (exports named `{PREFIX}…`); was it built with `cargo test`?",
            path.display()
        );
    }
    tests.sort_by(|a, b| a.path.cmp(&b.path));
    let found = tests.len();
    let started = Instant::now();
    let run: Vec<&GuestTest> = tests
        .iter()
        .filter(|t| options.selects(&t.path) && (t.ignore || !options.ignored_only))
        .collect();
    let filtered_out = found - run.len();
    writeln!(
        out,
        "\nrunning {} test{}",
        run.len(),
        if run.len() == 1 { "" } else { "s" }
    )?;
    let (mut passed, mut ignored) = (0, 0);
    let mut failures: Vec<(String, String)> = Vec::new();
    let name = path.display().to_string();
    for test in run {
        let skip = test.ignore && !options.ignored_only && !options.include_ignored;
        if skip {
            writeln!(out, "test {} ... ignored", test.path)?;
            ignored += 1;
            continue;
        }
        let (stdout_before, stderr_before) =
            (vm.captured_stdout().len(), vm.captured_stderr().len());
        let outcome = tokio::time::timeout(
            options.timeout,
            vm.run_export(&module, &test.export, &[&name]),
        )
        .await;
        vm.kill_all().await;
        let output = format!(
            "{}{}",
            vm.captured_stdout()
                .get(stdout_before..)
                .unwrap_or_default(),
            vm.captured_stderr()
                .get(stderr_before..)
                .unwrap_or_default()
        );
        let verdict = match (outcome, &test.panic) {
            (Err(_), _) => Err(format!(
                "the test ran past the timeout of {:?} and was killed",
                options.timeout
            )),
            (Ok(Err(e)), _) => Err(format!("the test could not run: {e}")),
            (Ok(Ok(o)), None) if o.reason == ExitReason::Normal => Ok(()),
            (Ok(Ok(o)), None) => Err(format!("the test's process ended: {}", o.reason)),
            (Ok(Ok(o)), Some(_)) if o.reason == ExitReason::Normal => {
                Err("the test did not panic, as #[should_panic] expects".into())
            }
            (Ok(Ok(_)), Some(expected)) if !output.contains(expected.as_str()) => Err(format!(
                "the test panicked, but its output does not contain the expected text {expected:?}"
            )),
            (Ok(Ok(_)), Some(_)) => Ok(()),
        };
        match verdict {
            Ok(()) => {
                writeln!(out, "test {} ... ok", test.path)?;
                passed += 1;
            }
            Err(why) => {
                writeln!(out, "test {} ... FAILED", test.path)?;
                failures.push((test.path.clone(), format!("{output}{why}\n")));
            }
        }
    }
    if !failures.is_empty() {
        writeln!(out, "\nfailures:\n")?;
        for (path, text) in &failures {
            writeln!(out, "---- {path} stdout ----\n{text}")?;
        }
        writeln!(out, "failures:")?;
        for (path, _) in &failures {
            writeln!(out, "    {path}")?;
        }
    }
    writeln!(
        out,
        "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(failures.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_carry_the_flags() {
        let t = parse("vm-test::app::tests::adds").unwrap();
        assert_eq!(
            (t.path.as_str(), t.ignore, t.panic),
            ("app::tests::adds", false, None)
        );
        assert!(parse("vm-test:ignore:a::b").unwrap().ignore);
        assert_eq!(parse("vm-test:panic:a").unwrap().panic.as_deref(), Some(""));
        assert_eq!(
            parse("vm-test:panic=626f6f6d:a").unwrap().panic.as_deref(),
            Some("boom")
        );
        assert!(parse("vm-test:weird:a").is_none());
        assert!(parse("_start").is_none());
    }

    #[test]
    fn filters_select_as_libtest_does() {
        let args: Vec<String> = ["--nocapture", "adds", "--test-threads=1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = TestOptions::from_args(&args);
        assert!(o.selects("app::adds_two") && !o.selects("app::subtracts"));
        let exact = TestOptions::from_args(&["--exact".into(), "app::adds".into()]);
        assert!(exact.selects("app::adds") && !exact.selects("app::adds_two"));
    }
}
