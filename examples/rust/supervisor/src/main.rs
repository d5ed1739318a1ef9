//! A supervisor restarts a worker that crashes.
//!
//! The worker is a server (`vm_sdk::server`) that divides 100 by each
//! number it is called with; dividing by zero panics, which ends it
//! abnormally. Its supervisor (`vm_sdk::supervisor`, one-for-one) starts a
//! fresh worker under the same registered name, and the caller goes on
//! calling it by that name.

use std::time::Duration;
use vm_sdk::request::{Request, RequestError};
use vm_sdk::server::{self, Next, Server, ServerRef};
use vm_sdk::supervisor::{self, ChildSpec, Spec, Strategy, Supervise};

/// Divides 100 by what it is called with.
struct Divider {
    generation: u32,
}

impl Server for Divider {
    type Arg = u32;
    type Call = u32;
    type Reply = u32;
    type Cast = ();

    fn init(generation: u32) -> Result<Self, vm_sdk::Failure> {
        Ok(Divider { generation })
    }

    fn handle_call(&mut self, request: Request<u32, u32>) -> Next {
        let divisor = std::hint::black_box(*request.body());
        if divisor == 0 {
            panic!("worker {} was asked to divide by zero", self.generation);
        }
        request.reply(100 / divisor);
        Next::Continue
    }
}

/// One divider, restarted whenever it crashes (at most 5 times in 10 s).
struct Tree;

impl Supervise for Tree {
    type Arg = ();

    fn init((): ()) -> Spec {
        let mut generation = 0;
        Spec::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(10))
            .child(ChildSpec::new("divider", move || {
                generation += 1;
                Ok(server::Start::<Divider>::new(generation)
                    .link()
                    .name("divider")
                    .start()?)
            }))
    }
}

fn main() {
    let tree = supervisor::start::<Tree>(()).expect("the supervisor starts");
    println!("caller: the supervisor started worker 1");
    let jobs = [5, 0, 4, 0, 2];
    let mut crashes = 0;
    for divisor in jobs {
        let divider = ServerRef::<Divider>::lookup("divider").expect("a registered divider");
        match divider.call(divisor) {
            Ok(quotient) => println!("100 / {divisor} = {quotient}"),
            Err(RequestError::Down(reason)) => {
                crashes += 1;
                println!("caller: the worker crashed: {reason:?}");
                // Answered once the supervisor has dealt with the crash.
                let children = tree.which_children().expect("the supervisor answers");
                if children[0].process.is_some() {
                    println!("caller: the supervisor started worker {}", crashes + 1);
                }
            }
            Err(e) => panic!("calling the divider: {e}"),
        }
    }
    println!("caller: {} jobs done, {crashes} restarts", jobs.len());
}
