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
    /// Skip tests whose path contains one of these (`--skip`).
    pub skip: Vec<String>,
    /// Filters (and skips) match whole paths only.
    pub exact: bool,
    /// Run only the ignored tests (the others count as filtered out).
    pub ignored_only: bool,
    /// Run the ignored tests too.
    pub include_ignored: bool,
    /// List the tests instead of running them (`--list`).
    pub list: bool,
    /// How long a test may run before it is killed and fails.
    pub timeout: Duration,
    /// Print each test's output as it ends, before its result line
    /// (`--nocapture`), rather than only for failures.
    pub nocapture: bool,
    /// Print the output of the tests that passed too, after the run
    /// (`--show-output`), as libtest's "successes" section.
    pub show_output: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            ignored_only: false,
            include_ignored: false,
            list: false,
            nocapture: false,
            show_output: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// libtest's flags that take a value (as `--flag VALUE` or `--flag=VALUE`),
/// accepted and, except `--skip`, without effect here: every test runs in
/// a process of its own, one after another, its output captured (and
/// shown as `--nocapture` and `--show-output` ask).
const VALUED: &[&str] = &[
    "--skip",
    "--test-threads",
    "--color",
    "--format",
    "--logfile",
    "-Z",
    "--shuffle-seed",
];

/// libtest's flags without a value that change nothing here.
const ACCEPTED: &[&str] = &[
    "--quiet",
    "-q",
    "--test",
    "--shuffle",
    "--report-time",
    "--ensure-time",
    "--force-run-in-process",
];

impl TestOptions {
    /// Reads libtest's arguments: filters, `--skip`, `--exact`,
    /// `--ignored`, `--include-ignored`, `--list`, `--nocapture` and
    /// `--show-output`; flags that take a value (`--test-threads N`,
    /// `--color X`, …) take it; flags that mean nothing here (`--quiet`, …)
    /// are accepted. An unknown flag is an
    /// error, so a typo cannot silently run nothing.
    ///
    /// # Errors
    /// An unknown flag, or a flag missing its value.
    pub fn from_args(args: &[String]) -> Result<TestOptions, String> {
        let mut options = TestOptions::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            match flag {
                "--ignored" => options.ignored_only = true,
                "--include-ignored" => options.include_ignored = true,
                "--exact" => options.exact = true,
                "--list" => options.list = true,
                "--nocapture" | "--no-capture" => options.nocapture = true,
                "--show-output" => options.show_output = true,
                f if ACCEPTED.contains(&f) => {}
                f if VALUED.contains(&f) => {
                    let value = match inline {
                        Some(v) => v,
                        None => args
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("{f} needs a value"))?,
                    };
                    if f == "--skip" {
                        options.skip.push(value);
                    }
                }
                f if f.starts_with('-') => {
                    return Err(format!(
                        "vm test does not know the flag `{f}` (it takes filters, --skip, --exact, --ignored, --include-ignored, --list, --nocapture, --show-output, and libtest's other flags without effect)"
                    ))
                }
                filter => options.filters.push(filter.to_string()),
            }
        }
        Ok(options)
    }

    fn matches(&self, pattern: &str, path: &str) -> bool {
        if self.exact {
            path == pattern
        } else {
            path.contains(pattern)
        }
    }

    fn selects(&self, path: &str) -> bool {
        (self.filters.is_empty() || self.filters.iter().any(|f| self.matches(f, path)))
            && !self.skip.iter().any(|s| self.matches(s, path))
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
    // libtest names a test by its path within the crate.
    let path = path.split_once("::").map_or(path, |(_, within)| within);
    let hex_text = |hex: &str| -> String {
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let (mut ignore, mut panic) = (false, None);
    for flag in flags.split(',').filter(|f| !f.is_empty()) {
        match flag {
            "ignore" => ignore = true,
            "panic" => panic = Some(String::new()),
            f => panic = Some(hex_text(f.strip_prefix("panic=")?)),
        }
    }
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
    if options.list {
        for test in &run {
            writeln!(out, "{}: test", test.path)?;
        }
        writeln!(out, "\n{} tests, 0 benchmarks", run.len())?;
        return Ok(true);
    }
    writeln!(
        out,
        "\nrunning {} test{}",
        run.len(),
        if run.len() == 1 { "" } else { "s" }
    )?;
    let (mut passed, mut ignored) = (0, 0);
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut successes: Vec<(String, String)> = Vec::new();
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
            (Ok(Ok(o)), Some(_)) if !matches!(o.reason, ExitReason::Trap(_)) => Err(format!(
                "the test did not panic, as #[should_panic] expects (its process ended: {})",
                o.reason
            )),
            (Ok(Ok(_)), Some(expected)) if !output.contains(expected.as_str()) => Err(format!(
                "the test panicked, but its output does not contain the expected text {expected:?}"
            )),
            (Ok(Ok(_)), Some(_)) => Ok(()),
        };
        if options.nocapture {
            out.write_all(output.as_bytes())?;
        }
        match verdict {
            Ok(()) => {
                writeln!(out, "test {} ... ok", test.path)?;
                passed += 1;
                if options.show_output && !options.nocapture {
                    successes.push((test.path.clone(), output));
                }
            }
            Err(why) => {
                writeln!(out, "test {} ... FAILED", test.path)?;
                // Under --nocapture the output is out already.
                let shown = if options.nocapture {
                    ""
                } else {
                    output.as_str()
                };
                failures.push((test.path.clone(), format!("{shown}{why}\n")));
            }
        }
    }
    if !successes.is_empty() {
        writeln!(out, "\nsuccesses:\n")?;
        for (path, text) in &successes {
            writeln!(out, "---- {path} stdout ----\n{text}")?;
        }
        writeln!(out, "successes:")?;
        for (path, _) in &successes {
            writeln!(out, "    {path}")?;
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
            ("tests::adds", false, None)
        );
        assert!(parse("vm-test:ignore:app::b").unwrap().ignore);
        assert_eq!(
            parse("vm-test:panic:app::a").unwrap().panic.as_deref(),
            Some("")
        );
        assert_eq!(
            parse("vm-test:panic=626f6f6d:app::a")
                .unwrap()
                .panic
                .as_deref(),
            Some("boom")
        );
        let both = parse("vm-test:ignore,panic:app::a").unwrap();
        assert!(both.ignore && both.panic.is_some());
        assert!(parse("vm-test:weird:app::a").is_none());
        assert!(parse("_start").is_none());
    }

    fn args(a: &[&str]) -> Result<TestOptions, String> {
        TestOptions::from_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments_are_read_as_libtest_reads_them() {
        let o = args(&[
            "--nocapture",
            "adds",
            "--test-threads",
            "1",
            "--color=never",
        ])
        .unwrap();
        assert_eq!(o.filters, ["adds"]);
        assert!(o.selects("tests::adds_two") && !o.selects("tests::subtracts"));
        let exact = args(&["--exact", "tests::adds"]).unwrap();
        assert!(exact.selects("tests::adds") && !exact.selects("tests::adds_two"));
        let skip = args(&["--skip", "adds"]).unwrap();
        assert!(!skip.selects("tests::adds") && skip.selects("tests::hangs"));
        assert!(args(&["--list"]).unwrap().list);
        assert!(args(&["--tset-threads", "1"])
            .unwrap_err()
            .contains("--tset-threads"));
        assert!(args(&["--skip"]).unwrap_err().contains("needs a value"));
    }
}
