//! The versioned C ABI through which the VM loads a plugin from a shared
//! library (`vm run --native-plugin libkv.so`), and the export that puts a
//! [`Plugin`] behind it ([`export_native_plugin!`](crate::export_native_plugin)).
//!
//! No Rust type crosses it, so a plugin built by another Rust version, or
//! written in C (`sdk-c/include/vm_native_plugin.h`), works. The library
//! exports [`ENTRY_SYMBOL`], a function returning a pointer to an
//! [`FfiPlugin`] that lives as long as the library. Arguments are borrowed
//! copies the VM owns (never guest pointers), valid during the call; a
//! result's bytes are the plugin's, valid until its next call with the same
//! state, or the state's drop. States are used by one call at a time, maybe
//! on different threads.

use crate::{Handler, Plugin, State, Value};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

/// The C ABI's version. Version 2 added [`FfiPlugin::size`]; version 3
/// carries every WIT value ([`FfiValue3`]) where 1 and 2 carried scalars,
/// strings and `list<u8>` ([`FfiValue`]). The VM loads libraries of all
/// three and refuses others.
pub const ABI_VERSION: u32 = 3;

/// The symbol a plugin library exports: `const FfiPlugin *vm_native_plugin_v1(void)`.
pub const ENTRY_SYMBOL: &str = "vm_native_plugin_v1";

/// Borrowed bytes (UTF-8 where text is meant).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiStr {
    /// The first byte (may be null when `len` is 0).
    pub ptr: *const u8,
    /// How many bytes.
    pub len: usize,
}

impl FfiStr {
    /// Borrows `s`.
    pub fn new(s: &[u8]) -> FfiStr {
        FfiStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The bytes; `None` for a null pointer with a non-zero length, or a
    /// length no allocation can have, which are refused rather than read.
    ///
    /// # Safety
    /// A non-null `ptr` must point to `len` readable bytes for the returned
    /// lifetime.
    pub unsafe fn bytes<'a>(&self) -> Option<&'a [u8]> {
        if self.len == 0 {
            Some(&[])
        } else if self.ptr.is_null() || self.len > isize::MAX as usize {
            None
        } else {
            // SAFETY: as the caller promises.
            Some(unsafe { std::slice::from_raw_parts(self.ptr, self.len) })
        }
    }
}

/// A value across versions 1 and 2 of the C ABI. `kind` says which: 0
/// none, 1 bool, 2 u8, 3 u16, 4 u32, 5 u64, 6 s8, 7 s16, 8 s32, 9 s64 (in
/// `bits`, zero- or sign-extended), 10 string, 11 `list<u8>` (in `ptr`/`len`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiValue {
    /// Which type.
    pub kind: u32,
    /// A scalar.
    pub bits: u64,
    /// A string's or list's bytes.
    pub bytes: FfiStr,
}

/// A call's result in versions 1 and 2: `case` is 0 for a result's ok, an
/// option's none, or a plain value; 1 for an error or an option's some.
/// `value` is the payload (kind 0 when there is none).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiReturn {
    /// Which case.
    pub case: u32,
    /// Its payload.
    pub value: FfiValue,
}

/// What a plugin library provides.
#[repr(C)]
pub struct FfiPlugin {
    /// [`ABI_VERSION`] of the library's build.
    pub abi_version: u32,
    /// Non-empty when the plugin could not start: why.
    pub error: FfiStr,
    /// The plugin's WIT text.
    pub wit: FfiStr,
    /// The functions `call` takes, by index: `INTERFACE.FUNCTION` each.
    pub functions: *const FfiStr,
    /// How many.
    pub function_count: usize,
    /// A process's fresh state (on its first call); required.
    pub create: Option<unsafe extern "C" fn() -> *mut c_void>,
    /// Drops a state (when its process ends); may be null for a plugin
    /// whose states need no freeing.
    pub drop: Option<unsafe extern "C" fn(state: *mut c_void)>,
    /// Calls function `function` with `nargs` arguments; 0 when it returned
    /// (`out` holds the result, kind 0 for a function without one), 1 when
    /// it failed (`out` holds the reason as a string, and the calling
    /// process ends with it); required. (Versions 1 and 2 passed
    /// [`FfiValue`]s and wrote an [`FfiReturn`].)
    pub call: Option<
        unsafe extern "C" fn(
            state: *mut c_void,
            function: usize,
            args: *const FfiValue3,
            nargs: usize,
            out: *mut FfiValue3,
        ) -> u32,
    >,
    /// Bytes of the host's memory a state holds (since version 2), which
    /// the VM charges to the state's process after each call; may be null
    /// (the state is then charged a fixed amount).
    pub size: Option<unsafe extern "C" fn(state: *const c_void) -> usize>,
}

/// The value's form in versions 1 and 2, borrowing its bytes.
pub fn to_ffi(v: &Value) -> FfiValue {
    let (kind, bits, bytes): (u32, u64, &[u8]) = match v {
        Value::Bool(x) => (1, *x as u64, &[]),
        Value::U8(x) => (2, *x as u64, &[]),
        Value::U16(x) => (3, *x as u64, &[]),
        Value::U32(x) => (4, *x as u64, &[]),
        Value::U64(x) => (5, *x, &[]),
        Value::S8(x) => (6, *x as i64 as u64, &[]),
        Value::S16(x) => (7, *x as i64 as u64, &[]),
        Value::S32(x) => (8, *x as i64 as u64, &[]),
        Value::S64(x) => (9, *x as u64, &[]),
        Value::String(s) => (10, 0, s.as_bytes()),
        Value::Bytes(b) => (11, 0, b),
        // Versions 1 and 2 carry none of the others: the VM refuses their
        // functions at load.
        _ => (0, 0, &[]),
    };
    FfiValue {
        kind,
        bits,
        bytes: FfiStr::new(bytes),
    }
}

/// A value from its form in versions 1 and 2, copying its bytes; `None`
/// for kind 0, an unknown kind, a string that is not UTF-8, or bytes at a
/// null pointer with a non-zero length.
///
/// # Safety
/// A string's or list's `bytes` must be readable.
pub unsafe fn from_ffi(v: &FfiValue) -> Option<Value> {
    // SAFETY: as the caller promises.
    let bytes = || unsafe { v.bytes.bytes() }.map(<[u8]>::to_vec);
    Some(match v.kind {
        1 => Value::Bool(v.bits != 0),
        2 => Value::U8(v.bits as u8),
        3 => Value::U16(v.bits as u16),
        4 => Value::U32(v.bits as u32),
        5 => Value::U64(v.bits),
        6 => Value::S8(v.bits as i8),
        7 => Value::S16(v.bits as i16),
        8 => Value::S32(v.bits as i32),
        9 => Value::S64(v.bits as i64),
        10 => Value::String(String::from_utf8(bytes()?).ok()?),
        11 => Value::Bytes(bytes()?),
        _ => return None,
    })
}

/// A value across version 3 of the C ABI: any WIT value, as a tree.
/// `kind` says which: 0 none, 1 bool, 2 u8, 3 u16, 4 u32, 5 u64, 6 s8,
/// 7 s16, 8 s32, 9 s64, 12 f32, 13 f64 (their bits), 14 char (its scalar
/// value), 18 flags (bit `i` for flag `i`), all in `bits` (integers zero-
/// or sign-extended); 10 string and 11 `list<u8>` in `bytes`; 15 any other
/// list and 16 a record's fields or a tuple's members, `count` of them at
/// `items`; 17 a variant's, enum's, option's (0 none, 1 some) or result's
/// (0 ok, 1 err) case, in `case`, with its payload at `items` when `count`
/// is 1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiValue3 {
    /// Which type.
    pub kind: u32,
    /// A case (kind 17).
    pub case: u32,
    /// A scalar's bits.
    pub bits: u64,
    /// A string's or `list<u8>`'s bytes.
    pub bytes: FfiStr,
    /// A list's items, a record's fields, a case's payload.
    pub items: *const FfiValue3,
    /// How many `items`.
    pub count: usize,
}

impl FfiValue3 {
    /// No value (a function without a result).
    pub const NONE: FfiValue3 = FfiValue3 {
        kind: 0,
        case: 0,
        bits: 0,
        bytes: FfiStr {
            ptr: std::ptr::null(),
            len: 0,
        },
        items: std::ptr::null(),
        count: 0,
    };
}

/// The nodes of values in their C form, kept alive as long as the values
/// that point into them are used.
#[derive(Default)]
pub struct FfiArena {
    nodes: Vec<Vec<FfiValue3>>,
}

// SAFETY: the nodes point into values their owner keeps beside the arena,
// and are only read.
unsafe impl Send for FfiArena {}

/// The value's form in version 3, borrowing its bytes; its items live in
/// `arena`.
pub fn to_ffi3(v: &Value, arena: &mut FfiArena) -> FfiValue3 {
    let scalar = |kind: u32, bits: u64| FfiValue3 {
        kind,
        bits,
        ..FfiValue3::NONE
    };
    let items = |vs: &mut dyn Iterator<Item = &Value>, arena: &mut FfiArena| {
        let nodes: Vec<FfiValue3> = vs.map(|v| to_ffi3(v, arena)).collect();
        let (ptr, count) = (nodes.as_ptr(), nodes.len());
        // Moving the Vec into the arena keeps its buffer where it is.
        arena.nodes.push(nodes);
        (ptr, count)
    };
    match v {
        Value::Bool(x) => scalar(1, *x as u64),
        Value::U8(x) => scalar(2, *x as u64),
        Value::U16(x) => scalar(3, *x as u64),
        Value::U32(x) => scalar(4, *x as u64),
        Value::U64(x) => scalar(5, *x),
        Value::S8(x) => scalar(6, *x as i64 as u64),
        Value::S16(x) => scalar(7, *x as i64 as u64),
        Value::S32(x) => scalar(8, *x as i64 as u64),
        Value::S64(x) => scalar(9, *x as u64),
        Value::F32(x) => scalar(12, x.to_bits() as u64),
        Value::F64(x) => scalar(13, x.to_bits()),
        Value::Char(x) => scalar(14, *x as u64),
        Value::Flags(x) => scalar(18, *x as u64),
        Value::String(s) => FfiValue3 {
            kind: 10,
            bytes: FfiStr::new(s.as_bytes()),
            ..FfiValue3::NONE
        },
        Value::Bytes(b) => FfiValue3 {
            kind: 11,
            bytes: FfiStr::new(b),
            ..FfiValue3::NONE
        },
        Value::List(vs) | Value::Record(vs) => {
            let (ptr, count) = items(&mut vs.iter(), arena);
            FfiValue3 {
                kind: if matches!(v, Value::List(_)) { 15 } else { 16 },
                items: ptr,
                count,
                ..FfiValue3::NONE
            }
        }
        Value::Case(case, payload) => {
            let (ptr, count) = items(&mut payload.iter().map(|p| &**p), arena);
            FfiValue3 {
                kind: 17,
                case: *case,
                items: ptr,
                count,
                ..FfiValue3::NONE
            }
        }
    }
}

/// The most nodes [`from_ffi3`] reads of one value, and how deep: bounds
/// on what a faulty tree (a cycle, a wild count) can make it do.
pub const MAX_FFI_NODES: usize = 1 << 20;
/// See [`MAX_FFI_NODES`].
pub const MAX_FFI_DEPTH: usize = 256;

/// A value from its form in version 3, copying it; why not, for kind 0,
/// an unknown kind, a string that is not UTF-8, a null pointer with a
/// non-zero length, or a tree past [`MAX_FFI_NODES`] or [`MAX_FFI_DEPTH`].
///
/// # Safety
/// Its bytes and items must be readable.
pub unsafe fn from_ffi3(v: &FfiValue3) -> Result<Value, String> {
    let mut nodes = 0;
    // SAFETY: as the caller promises.
    unsafe { read3(v, &mut nodes, 0) }
}

/// # Safety
/// As [`from_ffi3`].
unsafe fn read3(v: &FfiValue3, nodes: &mut usize, depth: usize) -> Result<Value, String> {
    *nodes += 1;
    if *nodes > MAX_FFI_NODES || depth > MAX_FFI_DEPTH {
        return Err(format!(
            "a value of more than {MAX_FFI_NODES} parts or {MAX_FFI_DEPTH} levels"
        ));
    }
    // SAFETY: as the caller promises.
    let bytes = || unsafe { v.bytes.bytes() }.ok_or("bytes at a null pointer with a length");
    let items = |nodes: &mut usize| -> Result<Vec<Value>, String> {
        if v.count == 0 {
            return Ok(Vec::new());
        }
        if v.items.is_null() || v.count > MAX_FFI_NODES {
            return Err(format!("{} items at a null pointer, or too many", v.count));
        }
        // SAFETY: as the caller promises: `count` readable items.
        let items = unsafe { std::slice::from_raw_parts(v.items, v.count) };
        // SAFETY: as above, for each.
        items
            .iter()
            .map(|i| unsafe { read3(i, nodes, depth + 1) })
            .collect()
    };
    Ok(match v.kind {
        1 => Value::Bool(v.bits != 0),
        2 => Value::U8(v.bits as u8),
        3 => Value::U16(v.bits as u16),
        4 => Value::U32(v.bits as u32),
        5 => Value::U64(v.bits),
        6 => Value::S8(v.bits as i8),
        7 => Value::S16(v.bits as i16),
        8 => Value::S32(v.bits as i32),
        9 => Value::S64(v.bits as i64),
        12 => Value::F32(f32::from_bits(v.bits as u32)),
        13 => Value::F64(f64::from_bits(v.bits)),
        14 => Value::Char(
            u32::try_from(v.bits)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    format!(
                        "the char {:#x}, which is not a Unicode scalar value",
                        v.bits
                    )
                })?,
        ),
        18 => Value::Flags(v.bits as u32),
        10 => Value::String(
            String::from_utf8(bytes()?.to_vec()).map_err(|_| "a string that is not UTF-8")?,
        ),
        11 => Value::Bytes(bytes()?.to_vec()),
        15 => Value::List(items(nodes)?),
        16 => Value::Record(items(nodes)?),
        17 => {
            let mut payload = items(nodes)?;
            if payload.len() > 1 {
                return Err(format!("a case with {} payloads", payload.len()));
            }
            Value::Case(v.case, payload.pop().map(Box::new))
        }
        k => return Err(format!("a value of kind {k}, which the ABI does not have")),
    })
}

/// A library's one plugin, made on the first call of its entry.
struct Exported {
    plugin: Option<Plugin>,
    error: String,
    names: Vec<String>,
    strs: Vec<FfiStr>,
    table: FfiPlugin,
}

// SAFETY: the raw pointers in `strs` and `table` point into `plugin`'s WIT
// and `names`, which live (unchanged) as long as the static.
unsafe impl Send for Exported {}
// SAFETY: as above; nothing in it is mutated after it is made.
unsafe impl Sync for Exported {}

static EXPORTED: OnceLock<Exported> = OnceLock::new();

/// A state behind the C ABI: the plugin's, and the last result, whose
/// bytes and nodes stay valid until the next call.
struct FfiState {
    state: State,
    last: Option<Value>,
    arena: FfiArena,
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

unsafe extern "C" fn create() -> *mut c_void {
    let Some(plugin) = EXPORTED.get().and_then(|e| e.plugin.as_ref()) else {
        return std::ptr::null_mut();
    };
    match catch_unwind(AssertUnwindSafe(|| plugin.new_state())) {
        Ok(state) => Box::into_raw(Box::new(FfiState {
            state,
            last: None,
            arena: FfiArena::default(),
        }))
        .cast(),
        Err(_) => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn drop_state(state: *mut c_void) {
    if !state.is_null() {
        // SAFETY: made by `create`, dropped once by the VM.
        let state = unsafe { Box::from_raw(state.cast::<FfiState>()) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
    }
}

unsafe extern "C" fn state_size(state: *const c_void) -> usize {
    let Some(plugin) = EXPORTED.get().and_then(|e| e.plugin.as_ref()) else {
        return 0;
    };
    if state.is_null() {
        return 0;
    }
    // SAFETY: made by `create`; the VM measures it between calls.
    let state = unsafe { &*state.cast::<FfiState>() };
    // A measure that panics says "too much": the VM then ends the call
    // rather than undercharge.
    catch_unwind(AssertUnwindSafe(|| {
        std::mem::size_of_val(&*state.state) + plugin.state_size(&state.state)
    }))
    .unwrap_or(usize::MAX)
}

unsafe extern "C" fn call(
    state: *mut c_void,
    function: usize,
    args: *const FfiValue3,
    nargs: usize,
    out: *mut FfiValue3,
) -> u32 {
    // SAFETY: the VM passes a state from `create`, used by this call alone,
    // `nargs` readable arguments, and a writable `out`.
    let (state, args, out) = unsafe {
        (
            &mut *state.cast::<FfiState>(),
            if nargs == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(args, nargs)
            },
            &mut *out,
        )
    };
    state.arena = FfiArena::default();
    let fail = |state: &mut FfiState, out: &mut FfiValue3, why: String| {
        state.last = Some(Value::String(why));
        *out = to_ffi3(state.last.as_ref().expect("just set"), &mut state.arena);
        1
    };
    let Some(plugin) = EXPORTED.get().and_then(|e| e.plugin.as_ref()) else {
        return fail(state, out, "the plugin did not start".into());
    };
    let Some(f) = plugin.functions().get(function) else {
        return fail(state, out, format!("no function {function}"));
    };
    // SAFETY: the VM's arguments are readable during the call.
    let values: Result<Vec<Value>, String> = args.iter().map(|a| unsafe { from_ffi3(a) }).collect();
    let values = match values {
        Ok(v) => v,
        Err(why) => {
            return fail(
                state,
                out,
                format!("an argument the plugin cannot read: {why}"),
            )
        }
    };
    let Handler::Sync(handler) = &f.handler else {
        return fail(
            state,
            out,
            format!("{} is async, which a shared library cannot be", f.name),
        );
    };
    let result = catch_unwind(AssertUnwindSafe(|| handler(&mut state.state, values)));
    let returned = match result {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => return fail(state, out, why),
        Err(p) => {
            return fail(
                state,
                out,
                format!("{} panicked: {}", f.name, panic_text(p)),
            )
        }
    };
    state.last = returned;
    *out = match &state.last {
        Some(v) => to_ffi3(v, &mut state.arena),
        None => FfiValue3::NONE,
    };
    0
}

/// The entry of a library made with
/// [`export_native_plugin!`](crate::export_native_plugin): makes the
/// plugin once and describes it. Not for direct use.
#[doc(hidden)]
pub fn entry(make: fn() -> Plugin) -> *const FfiPlugin {
    let exported = EXPORTED.get_or_init(|| {
        let made = catch_unwind(make);
        let (plugin, error) = match made {
            Ok(p) => match p.functions().iter().find(|f| matches!(f.handler, Handler::Async(_))) {
                Some(f) => (
                    None,
                    format!("{} is async: a shared-library plugin's functions are sync (register async ones in-process, with Vm::builder().native_plugin)", f.name),
                ),
                None => (Some(p), String::new()),
            },
            Err(p) => (None, format!("making the plugin panicked: {}", panic_text(p))),
        };
        let names: Vec<String> = plugin
            .as_ref()
            .map(|p| p.functions().iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default();
        let strs: Vec<FfiStr> = names.iter().map(|n| FfiStr::new(n.as_bytes())).collect();
        let mut exported = Exported {
            plugin,
            error,
            names,
            strs,
            table: FfiPlugin {
                abi_version: ABI_VERSION,
                error: FfiStr::new(&[]),
                wit: FfiStr::new(&[]),
                functions: std::ptr::null(),
                function_count: 0,
                create: Some(create),
                drop: Some(drop_state),
                call: Some(call),
                size: Some(state_size),
            },
        };
        exported.table.error = FfiStr::new(exported.error.as_bytes());
        exported.table.wit = FfiStr::new(exported.plugin.as_ref().map_or(&[][..], |p| p.wit().as_bytes()));
        exported.table.functions = exported.strs.as_ptr();
        exported.table.function_count = exported.strs.len();
        let _ = &exported.names;
        exported
    });
    &exported.table
}

/// Exports a [`Plugin`] from a `cdylib` through the C ABI, so that `vm run
/// --native-plugin libNAME.so` loads it: `make` is a `fn() -> Plugin`,
/// called once, on the library's first use. Panics in it, and in every
/// function, are caught and reported to the VM (the calling process ends
/// with the panic's message). Only sync functions cross a C ABI.
///
/// ```ignore
/// fn plugin() -> vm_plugin::Plugin { /* … */ }
/// vm_plugin::export_native_plugin!(plugin);
/// ```
#[macro_export]
macro_rules! export_native_plugin {
    ($make:path) => {
        /// The plugin's C-ABI entry, which `vm run --native-plugin` calls.
        #[no_mangle]
        pub extern "C" fn vm_native_plugin_v1() -> *const $crate::FfiPlugin {
            $crate::ffi::entry($make)
        }
    };
}
