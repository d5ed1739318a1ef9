//! A supervisor restarts a worker that crashes, through a link.
//!
//! The worker divides 100 by each number it gets; dividing by zero panics,
//! which ends the worker abnormally. The supervisor traps exits, so the
//! crash arrives as a message instead of taking it down too, and it starts
//! a fresh worker for the remaining jobs.

use serde::{Deserialize, Serialize};
use vm_sdk::mailbox::{Event, Exit};
use vm_sdk::process::{spawn_link, trap_exits, Process};
use vm_sdk::Mailbox;

#[derive(Serialize, Deserialize)]
struct Job {
    divisor: u32,
    reply_to: Process<u32>,
}

fn start_worker(generation: u32) -> Process<Job> {
    let worker = spawn_link(generation, |generation, jobs: Mailbox<Job>| {
        while let Ok(job) = jobs.receive() {
            let divisor = std::hint::black_box(job.divisor);
            if divisor == 0 {
                panic!("worker {generation} was asked to divide by zero");
            }
            job.reply_to.send(100 / divisor);
        }
    });
    println!("supervisor: started worker {generation}");
    worker
}

fn main() {
    trap_exits(true);
    let me = Process::<u32>::this();
    let mailbox = Mailbox::<u32>::this();
    let mut generation = 1;
    let mut worker = start_worker(generation);
    let jobs = [5, 0, 4, 0, 2];
    for divisor in jobs {
        worker.send(Job {
            divisor,
            reply_to: me,
        });
        match mailbox.receive_event(None).expect("a reply or an exit") {
            Event::Message(quotient) => println!("100 / {divisor} = {quotient}"),
            Event::Exit(Exit { process, reason }) => {
                println!("supervisor: worker {generation} (process {process}) crashed: {reason:?}");
                generation += 1;
                worker = start_worker(generation);
            }
            Event::Down(_) => unreachable!("no monitors here"),
        }
    }
    println!(
        "supervisor: {} jobs done, {} restarts",
        jobs.len(),
        generation - 1
    );
}
