//! The C SDK: examples built with Debian's clang and wasi-libc (and one guest
//! with no libc at all), run on the VM with the same assertions as Rust's.

use vm_reference::{ExitReason, NetRule};
use vm_tests::{
    c_guest, echo_100_clients, ping_pong_transcript, run_file, run_file_on, start_server, test_vm,
    HELLO_TRANSCRIPT,
};

/// Runs `edges MODE` with loopback networking granted and checks that it
/// ends normally having printed `expected`.
async fn edges(mode: &str, expected: &str) {
    let vm = test_vm().allow_net(NetRule::parse("127.0.0.1").unwrap());
    let run = run_file_on(vm, &c_guest("edges"), &[mode]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, expected, "stderr: {}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_hello_greets_from_a_spawned_process() {
    let run = run_file(&c_guest("hello"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, HELLO_TRANSCRIPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_ping_pong_plays_the_rounds_it_is_given() {
    let run = run_file(&c_guest("ping-pong"), &["5"]).await.unwrap();
    assert_eq!(run.outcome.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, ping_pong_transcript(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_echo_server_returns_every_byte_to_100_concurrent_clients() {
    let server = start_server(&c_guest("echo-server")).await;
    echo_100_clients(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freestanding_c_guest_without_libc_spawns_and_messages() {
    let run = run_file(&c_guest("freestanding"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_exit_flushes_what_printf_buffered() {
    let run = run_file(&c_guest("edges"), &["flush"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "no newline before vm_exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_vm_assert_crashes_the_process_saying_what_failed_where() {
    let run = run_file(&c_guest("edges"), &["assert"]).await.unwrap();
    // __FILE__ as the compiler was given it: this checkout's path.
    let expected = "assertion failed: answer == 42 at ";
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t)
            if t.starts_with(expected) && t.contains("tests/guests/c/edges.c:")),
        "{:?}",
        run.outcome.reason
    );
    // What printf buffered is out first, and the reason on stderr.
    assert_eq!(run.stdout, "asserting\n");
    assert!(run.stderr.contains(expected), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_own_assert_and_abort_crash_the_process_saying_why() {
    let run = run_file(&c_guest("edges"), &["c-assert"]).await.unwrap();
    let expected = "assertion failed: answer == 42 at ";
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t)
            if t.starts_with(expected) && t.contains("tests/guests/c/edges.c:") && t.ends_with(" in main")),
        "{:?}",
        run.outcome.reason
    );
    assert_eq!(run.stdout, "asserting\n");
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    let run = run_file(&c_guest("edges"), &["abort"]).await.unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Trap("abort() was called".into())
    );
    assert_eq!(run.stdout, "aborting\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_timer_delay_saturates_instead_of_wrapping() {
    let run = run_file(&c_guest("edges"), &["huge-delay"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "the huge timer was still pending: yes\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_stack_overflow_traps_instead_of_overwriting_data() {
    let run = run_file(&c_guest("edges"), &["overflow"]).await.unwrap();
    assert!(
        matches!(&run.outcome.reason, ExitReason::Trap(t) if t.contains("out of bounds")),
        "{:?}",
        run.outcome.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_h_serves_a_cxx17_guest() {
    let run = run_file(&c_guest("cxx"), &[]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stdout, "c++ got 2026 with tag 7\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_last_error_describes_the_sdks_own_failures_not_an_older_vm_one() {
    edges(
        "errors",
        "lookup: not-found | no process is registered as `nobody`\n\
         decode: decode | decode: the bytes did not decode (stopped at byte 1 of 1)\n\
         vm again: not-found | no process is registered as `nobody`\n\
         left over: decode | decode: the value took 1 of the 2 bytes, and the rest were left over\n\
         send writer: buffer-too-small | buffer-too-small: the encoding needs 5 bytes, the writer's buffer holds 2\n\
         capture: buffer-too-small | buffer-too-small: vm_spawn: a capture of 4097 bytes is over VM_MAX_CAPTURE (4096)\n\
         address: invalid-handle | handle 0 is not a socket of this process with a local-address\n\
         after a success: ok | handle 0 is not a socket of this process with a local-address\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_tripped_a_c_user_now_fails_clearly_where_it_happens() {
    edges(
        "native",
        "link to a process that never was: not-found | there has never been a process 999999 (ids are never reused: is the number right?)\n\
         link to one that ended: not-found | has ended\n\
         receive with no kinds: invalid-argument | receive was given no message kinds to wait for (0x0), so no message could ever match: pass a set such as data (1) or data | down (5)\n\
         receive into NULL: invalid-argument | invalid-argument: vm_receive: a NULL buffer with a length of 8 bytes\n\
         send NULL: invalid-argument | invalid-argument: vm_send: a NULL buffer with a length of 5 bytes\n\
         write NULL: invalid-argument, wrote 0 | invalid-argument: write: a NULL buffer with a length of 5 bytes\n\
         take a read half as a write half: invalid-argument | handle number 0 of the current message is a read half, not a write half; it stays in the message\n\
         then as a read half: ok, set yes, wrong one still 0: yes\n\
         take after the next receive: invalid-handle | the current message has no handle number 0 left to take: the message before it (tag 8, from process 1) carried a write half that no take-handle took before this receive, which closed it (take a message's handles before the next receive)\n\
         a generated decode of a truncated message: buffer-too-small | buffer-too-small: ping_pong_ball_decode_message: the message is larger than the receive buffer (read it whole with vm_receive_rest)\n\
         a message of 768 bytes: ok, 768 arrived, whole yes\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_lines_never_mix_within_a_line() {
    let run = run_file(&c_guest("edges"), &["lines"]).await.unwrap();
    assert_eq!(run.outcome.reason, ExitReason::Normal, "{}", run.stderr);
    assert_eq!(run.stderr, "child: a whole line\nroot: begun, and ended\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_or_closing_a_resource_zeroes_the_callers_handle_only_when_it_moved() {
    edges(
        "moved",
        "split: ok, stream 0, halves set yes\n\
         read on the split stream: invalid-handle\n\
         not paired: not-paired, halves kept yes\n\
         reunite: ok, halves 0 0, stream set yes\n\
         spawn with it: ok, stream 0\n\
         write on the moved stream: invalid-handle\n\
         send with it: ok, stream 0\n\
         timer with it: ok, stream 0\n\
         failed send: invalid-handle, handle kept 57005\n\
         close a read half: ok, 0, then invalid-handle\n\
         close the listener: ok, 0, then accept: invalid-handle\n\
         close a stream not owned: invalid-handle, 0\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_fails_with_the_servers_exit_reason_and_refuses_a_malformed_writer() {
    edges(
        "request",
        "request: down, exit \"gone fishing\" from the server: yes\n\
         its error: down | down: vm_request: process 2 ended (exit) before it replied\n\
         not begun: invalid-argument | invalid-argument: vm_request: the writer was not begun with vm_request_begin\n\
         overflowed: buffer-too-small | buffer-too-small: the encoding needs 35 bytes, the writer's buffer holds 4\n\
         junk request: decode | decode: the bytes did not decode (stopped at byte 1 of 1)\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_request_gave_up_is_dropped() {
    edges(
        "late-reply",
        "a request that gives up: timeout\n\
         its late reply left over: no\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_timeouts_nodelay_peek_shutdown_and_resolve_through_typed_calls() {
    edges(
        "sockets",
        "read timeout at first: -1\n\
         a 0 ms timeout: invalid-argument\n\
         read within the socket's timeout: timeout\n\
         peek within it: timeout\n\
         nodelay at first: on\n\
         halves: read 30, write 40, nodelay off\n\
         cleared: read -1, nodelay on\n\
         written by the write half: abc\n\
         peeked on the read half: xy, then read xy\n\
         resolve: ok 12 \"127.0.0.1:80\"\n\
         resolve into 4 bytes: buffer-too-small, needs 12\n\
         resolve a name not granted: permission-denied\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_reasons_decode_from_down_messages_even_truncated_ones() {
    let (major, minor, _) = vm_abi::ABI_VERSION;
    edges(
        "reasons",
        &format!(
            "abi {major}.{minor}\n\
             a data message as a reason: decode | decode: vm_decode_exit_reason: a message of kind 0 is not a down or exit message\n\
             as a down: ok trap \"oops\"\n\
             names: normal exit trap killed noproc unknown\n\
             a down into 3 bytes: ok exit \"go\", truncated yes\n\
             a process that never was: ok noproc\n"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenarios_guest_refuses_an_unknown_scenario_with_a_reason() {
    let run = run_file(&c_guest("scenarios"), &["nonesuch"])
        .await
        .unwrap();
    assert_eq!(
        run.outcome.reason,
        ExitReason::Exit("scenarios: unknown scenario".into())
    );
    assert!(run.stderr.contains("usage: scenarios"), "{}", run.stderr);
}

/// Every function `vm.h` declares has a comment directly above it, so a C
/// user never meets a bare prototype.
///
/// The rule, on the header's lines, comments (`/* … */`, `// …`) and
/// preprocessor lines (with their `\` continuations) set apart: a function
/// declaration is code starting at the first column, not a `typedef`, whose
/// first `(` follows an identifier starting with `vm_` (a `static inline`
/// definition counts); it runs to the line holding its `;` (or a
/// definition's `{`). It is documented when the line directly above its
/// first line is
/// - the closing line of a comment (the line ends with its `*/` and holds
///   no code), unless that comment is a section heading (`/* ---- … */`); or
/// - the last line of a documented declaration: a comment covers the group
///   of consecutive declarations below it, which anything else (a blank
///   line, a `#define`, a type) ends.
///
/// A comment after a declaration on its own line does not count.
#[test]
fn every_function_vm_h_declares_has_a_comment_directly_above_it() {
    let path = vm_tests::root().join("sdk-c/include/vm.h");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    #[derive(Clone, Copy)]
    enum Line {
        Other,
        /// Closes a comment; whether it is a section heading.
        CommentEnd {
            heading: bool,
        },
        /// Part of the declaration whose first line is this index.
        Decl(usize),
    }
    let mut kinds = vec![Line::Other; lines.len()];
    let mut declarations = Vec::new(); // (first line, name)
    let mut comment_start: Option<usize> = None;
    let mut in_macro = false;
    let mut open_decl: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        // The line's code, outside comments; a comment that closes at the
        // line's end marks the line.
        let mut code = String::new();
        let mut rest = *line;
        while !rest.is_empty() {
            if let Some(start) = comment_start {
                match rest.find("*/") {
                    Some(at) => {
                        rest = &rest[at + 2..];
                        if rest.trim().is_empty() {
                            let opened = lines[start].trim_start();
                            kinds[i] = Line::CommentEnd {
                                heading: opened.starts_with("/* ----"),
                            };
                        }
                        comment_start = None;
                    }
                    None => rest = "",
                }
            } else {
                let block = rest.find("/*");
                let line_comment = rest.find("//");
                match (block, line_comment) {
                    (_, Some(l)) if block.is_none_or(|b| l < b) => {
                        code.push_str(&rest[..l]);
                        rest = "";
                    }
                    (Some(b), _) => {
                        code.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        comment_start = Some(i);
                    }
                    _ => {
                        code.push_str(rest);
                        rest = "";
                    }
                }
            }
        }
        let code = code.trim_end();
        if code.trim().is_empty() {
            continue;
        }
        // Code on the line: a comment closing it is no comment above.
        kinds[i] = Line::Other;
        if in_macro {
            in_macro = code.ends_with('\\');
            continue;
        }
        if let Some(first) = open_decl {
            kinds[i] = Line::Decl(first);
            if code.contains([';', '{']) {
                open_decl = None;
            }
            continue;
        }
        if code.trim_start().starts_with('#') {
            in_macro = code.ends_with('\\');
            continue;
        }
        if code.starts_with(char::is_whitespace) || code.starts_with("typedef") {
            continue;
        }
        let Some(paren) = code.find('(') else {
            continue;
        };
        let before = code[..paren].trim_end();
        let name_at = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |at| at + 1);
        let name = &before[name_at..];
        if name.starts_with("vm_") {
            kinds[i] = Line::Decl(i);
            declarations.push((i, name.to_string()));
            if !code.contains([';', '{']) {
                open_decl = Some(i);
            }
        }
    }

    // A parser that finds nothing would pass vacuously.
    let names: Vec<&str> = declarations.iter().map(|(_, n)| n.as_str()).collect();
    for expected in [
        "vm_strerror",
        "vm_hibernate",
        "vm_link",
        "vm_get_u8",
        "vm_reply_writer",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not found among {names:?}"
        );
    }
    assert!(names.len() > 100, "only {} declarations found", names.len());

    let mut documented = vec![false; lines.len()];
    let mut bare = Vec::new();
    for (first, name) in &declarations {
        let above = first.checked_sub(1).map_or(Line::Other, |a| kinds[a]);
        documented[*first] = match above {
            Line::CommentEnd { heading } => !heading,
            Line::Decl(previous) => documented[previous],
            Line::Other => false,
        };
        if !documented[*first] {
            bare.push(format!("{name} (line {})", first + 1));
        }
    }
    assert!(
        bare.is_empty(),
        "{} declares these functions with no comment directly above them \
         (or above the group of consecutive declarations they are in): {}",
        path.display(),
        bare.join(", ")
    );
}
