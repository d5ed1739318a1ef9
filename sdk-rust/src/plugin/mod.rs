//! What the bindings of a plugin (`vm bindgen PLUGIN.wit --lang rust`, or
//! `vm_sdk::plugin!`) build on: the canonical ABI for every WIT type
//! ([`canon`]), the result area a call writes, and the guest's
//! `cabi_realloc`, through which the VM hands over the strings and lists a
//! call returns.
//!
//! A plugin call's `string` or `list<u8>` result arrives in memory the VM
//! allocated with this module's `cabi_realloc` (the global allocator), so
//! the bindings take it as a `String` or `Vec<u8>` without copying.

pub mod canon;

/// The most core values a plugin call's parameters flatten to before they
/// travel in memory instead (the canonical ABI's `MAX_FLAT_PARAMS`).
pub const MAX_FLAT_PARAMS: usize = 16;

/// A plugin call's result area, aligned for any value it holds: the VM
/// writes it through the return pointer.
#[repr(C, align(8))]
pub struct ResultArea<const N: usize>([u8; N]);

impl<const N: usize> Default for ResultArea<N> {
    fn default() -> Self {
        ResultArea([0; N])
    }
}

impl<const N: usize> ResultArea<N> {
    /// The pointer to pass as the call's return pointer (an `i32` on wasm32).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr()
    }
}

/// Panics: a plugin call works only in a guest running on the VM.
#[cold]
pub fn outside_vm(function: &str) -> ! {
    panic!("vm-sdk: `{function}` is a plugin call; it works only in a guest running on the VM (wasm32)")
}

/// The canonical ABI's allocator export: the VM calls it to make room in
/// this module's memory for each string or list a plugin call returns.
///
/// # Safety
/// Called by the VM with `old_ptr`/`old_len` of an earlier allocation (or
/// 0, 0) and a power-of-two `align`.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use std::alloc::{alloc, handle_alloc_error, realloc, Layout};
    if new_len == 0 {
        // A zero-length list: a dangling, aligned pointer, never freed.
        return align.max(1) as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_len, align.max(1)) else {
        std::process::abort()
    };
    // SAFETY: the layout has a non-zero size; a reallocation names an
    // earlier allocation of `old_len` bytes with this alignment.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(layout)
        } else {
            let old = Layout::from_size_align_unchecked(old_len, layout.align());
            realloc(old_ptr, old, new_len)
        }
    };
    if ptr.is_null() {
        handle_alloc_error(layout)
    }
    ptr
}
