//! Write processes for the `vm:host` actor VM in Rust.
//!
//! A process is a WebAssembly instance with its own memory and a mailbox.
//! Processes share nothing: they [spawn] each other, exchange
//! typed messages ([`Process<M>`](process::Process) only accepts `M`), link
//! and monitor each other with Erlang's semantics, register names, and set
//! timers. Build for `wasm32-wasip1` and run with `vm run app.wasm`.
//! [`server`] gives a process OTP's `gen_server` shape: state, calls,
//! casts, without a hand-written receive loop; [`supervisor`] restarts
//! them, as OTP's supervisors do.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use vm_sdk::mailbox::Mailbox;
//! use vm_sdk::process::{spawn, Process};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Ping(u32, Process<u32>);
//!
//! fn main() {
//!     let pong: Process<Ping> = spawn((), |(), mailbox: Mailbox<Ping>| {
//!         while let Ok(Ping(n, reply_to)) = mailbox.receive() {
//!             reply_to.send(n + 1);
//!         }
//!     });
//!     pong.send(Ping(1, Process::this()));
//!     let reply = Mailbox::<u32>::this().receive().unwrap();
//!     assert_eq!(reply, 2);
//! }
//! ```
//!
//! Messages are encoded with `postcard`, the wire format every SDK shares, so
//! a Rust process can talk to C and AssemblyScript processes.
//!
//! Outside wasm32 the crate compiles (so code using it can be unit-tested and
//! documented on the host), but every call into the VM panics.

#![warn(missing_docs)]

pub mod abi;
mod ack;
mod error;
mod exit;
pub mod global;
mod handle;
pub mod mailbox;
pub mod message;
pub mod net;
pub mod node;
pub mod plugin;
pub mod process;
pub mod registry;
pub mod request;
pub mod server;
pub mod supervisor;
pub mod timer;

pub use error::{DecodeError, Error, Failure, ReceiveError};
pub use mailbox::Mailbox;
pub use process::{spawn, spawn_link, Process};
/// A plugin's typed bindings from its WIT, in a module named after the
/// plugin: `vm_sdk::plugin!("kv.wit");` then `kv::store::get("key")` (see
/// the README's "Plugins"). The same code `vm bindgen kv.wit --lang rust`
/// writes to a file. Needs the crate's `plugin` feature (it builds the WIT
/// parser); without it the macro says how to turn it on.
pub use vm_sdk_macros::plugin;
/// Marks a test that `cargo test` runs on the VM, each in a process of its
/// own (see the README's "Start your own app").
pub use vm_sdk_macros::test;

/// Records the ABI version this SDK was built against in the guest's
/// `vm:abi` custom section, so the VM can say which SDK a module needs.
#[cfg(target_arch = "wasm32")]
#[used]
#[link_section = "vm:abi"]
static ABI_MARKER: [u8; abi::ABI_MARKER.len()] = abi::ABI_MARKER;

/// The ABI version the VM serves, `(major, minor, patch)`. The SDK was built
/// against [`abi::ABI_VERSION`]; a VM serving an older minor of the same
/// major runs every call the guest makes that it has.
pub fn abi_version() -> (u32, u32, u32) {
    let mut v = abi::Semver::default();
    // SAFETY: the return area is valid for the call.
    unsafe { abi::version::abi_version(&mut v) };
    (v.major, v.minor, v.patch)
}

/// Calls a raw import that returns `result<T, error-code>` through a return
/// pointer, turning the error into an [`Error`] carrying the VM's text.
pub(crate) fn call<T: Copy>(f: impl FnOnce(*mut abi::CallResult<T>)) -> Result<T, Error> {
    let mut ret = abi::CallResult::<T>::uninit();
    f(&mut ret);
    ret.get().map_err(Error::from_raw)
}
