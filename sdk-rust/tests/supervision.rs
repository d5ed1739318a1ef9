//! What a supervisor or a server decides from a child's kind, its end, or a
//! message it ignores, as OTP does.

use vm_sdk::process::ExitReason;
use vm_sdk::server::Next;
use vm_sdk::supervisor::{ChildSpec, SupervisorRef, DEFAULT_SHUTDOWN};
use vm_sdk::Process;

struct Tree;

/// A child that is a supervisor waits for its own children's shutdown as
/// long as it takes (OTP's `infinity`), so they stop in order; a worker has
/// five seconds.
#[test]
fn a_supervisor_child_shuts_down_in_its_own_time_and_a_worker_in_five_seconds() {
    let supervisor = ChildSpec::new("tree", || Ok(SupervisorRef::<Tree>::from_id(1)));
    assert!(
        format!("{supervisor:?}").contains("shutdown: Infinity"),
        "{supervisor:?}"
    );
    let worker = ChildSpec::new("worker", || Ok(Process::<()>::from_id(1)));
    assert!(
        format!("{worker:?}").contains(&format!("shutdown: Timeout({DEFAULT_SHUTDOWN:?})")),
        "{worker:?}"
    );
}

/// `shutdown` and `shutdown: TERM` (OTP's `{shutdown, Term}`) are orderly
/// ends, as `normal` is; anything else is not.
#[test]
fn shutdown_reasons_with_a_term_are_orderly_ends() {
    assert_eq!(Next::shutdown("done"), Next::Stop("shutdown: done".into()));
    for orderly in [
        ExitReason::Normal,
        ExitReason::Exit("shutdown".into()),
        ExitReason::Exit("shutdown: done".into()),
    ] {
        assert!(orderly.is_normal_or_shutdown(), "{orderly:?}");
    }
    for abnormal in [
        ExitReason::Exit("shutdowns".into()),
        ExitReason::Exit("boom".into()),
        ExitReason::Trap("shutdown: done".into()),
        ExitReason::Killed,
        ExitReason::NoProc,
    ] {
        assert!(!abnormal.is_normal_or_shutdown(), "{abnormal:?}");
    }
}

/// A server's default handlers ignore what they get and wait as before
/// (`Next::Same`): a stray message does not keep a hibernated server awake.
#[test]
fn a_servers_default_handlers_wait_as_before() {
    use vm_sdk::mailbox::Down;
    use vm_sdk::request::Request;
    use vm_sdk::server::{Info, Server};
    struct Quiet;
    impl Server for Quiet {
        type Arg = ();
        type Call = ();
        type Reply = ();
        type Cast = u8;
        fn init((): ()) -> Result<Self, vm_sdk::Failure> {
            Ok(Quiet)
        }
        fn handle_call(&mut self, request: Request<(), ()>) -> Next {
            drop(request);
            Next::Continue
        }
    }
    let down = Info::Down(Down {
        monitor: 1,
        process: 2,
        reason: ExitReason::Normal,
    });
    assert_eq!(Quiet.handle_info(down), Next::Same);
    assert_eq!(Quiet.handle_cast(7), Next::Same);
}
