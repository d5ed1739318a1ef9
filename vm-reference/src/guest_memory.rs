//! Guest memory as the host reads it: bounds-checked slices of a linear
//! memory, for host functions and plugin calls alike.

use vm_abi::ErrorCode;

/// The bytes at `ptr..ptr+len`, or `out-of-bounds`.
pub(crate) fn bytes(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], ErrorCode> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(ErrorCode::OutOfBounds)?;
    mem.get(start..end).ok_or(ErrorCode::OutOfBounds)
}

/// Mutable bytes at `ptr..ptr+len`, or `out-of-bounds`.
pub(crate) fn bytes_mut(mem: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], ErrorCode> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(ErrorCode::OutOfBounds)?;
    mem.get_mut(start..end).ok_or(ErrorCode::OutOfBounds)
}
