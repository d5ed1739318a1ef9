//! The kernel's mailbox (see `vm_kernel::mailbox`), with this VM's handles
//! as what messages move besides bytes.

use crate::handle::Resource;

pub(crate) use vm_kernel::{Filter, Payload};

/// A message, moving handles.
pub(crate) type Message = vm_kernel::Message<Resource>;
/// A message the VM's bound refused, given back with its handles.
pub(crate) type Refused = vm_kernel::Refused<Resource>;
