//! Native plugins from shared libraries (`vm run --native-plugin
//! libkv.so`): the library's C-ABI table (`vm_plugin::ffi`) made into a
//! [`vm_plugin::Plugin`] whose functions call through it, so the VM runs
//! it as it runs an in-process native plugin.
//!
//! Such code runs outside the sandbox, in the VM's own process: a crash in
//! it ends the VM. The VM checks what it can: the ABI version, the entry
//! symbol, the WIT and the functions the library names, and each value a
//! function returns.

use crate::plugin::{native_type, PluginError};
use std::ffi::c_void;
use std::path::Path;
use std::sync::Arc;
use vm_abi::plugin::{Package, Ty};
use vm_plugin::ffi::{
    from_ffi, from_ffi3, to_ffi, to_ffi3, FfiArena, FfiPlugin, FfiReturn, FfiStr, FfiValue,
    FfiValue3,
};
use vm_plugin::{Function, Handler, Outcome, Plugin, State, Value};

/// A loaded library and a copy of its table (of any version; `call` moved
/// out to `call`, typed by version).
struct Library {
    table: FfiPlugin,
    call: Call,
    _library: libloading::Library,
}

/// A library's `call`: versions 1 and 2 carry the subset's values, 3 any.
#[derive(Clone, Copy)]
enum Call {
    V2(CallV2),
    V3(CallV3),
}

type CallV2 =
    unsafe extern "C" fn(*mut c_void, usize, *const FfiValue, usize, *mut FfiReturn) -> u32;
type CallV3 =
    unsafe extern "C" fn(*mut c_void, usize, *const FfiValue3, usize, *mut FfiValue3) -> u32;

/// The table of C ABI version 2 (version 1's, with `size`).
#[repr(C)]
struct FfiPluginV2 {
    abi_version: u32,
    error: FfiStr,
    wit: FfiStr,
    functions: *const FfiStr,
    function_count: usize,
    create: Option<unsafe extern "C" fn() -> *mut c_void>,
    drop: Option<unsafe extern "C" fn(state: *mut c_void)>,
    call: Option<CallV2>,
    size: Option<unsafe extern "C" fn(state: *const c_void) -> usize>,
}

/// The table of C ABI version 1: version 2's without `size`.
#[repr(C)]
struct FfiPluginV1 {
    abi_version: u32,
    error: FfiStr,
    wit: FfiStr,
    functions: *const FfiStr,
    function_count: usize,
    create: Option<unsafe extern "C" fn() -> *mut c_void>,
    drop: Option<unsafe extern "C" fn(state: *mut c_void)>,
    call: Option<CallV2>,
}

// SAFETY: the table is immutable and the library stays loaded while this
// lives; the C ABI's contract (vm_native_plugin.h) makes its functions
// callable from any thread, one call per state at a time.
unsafe impl Send for Library {}
// SAFETY: as above.
unsafe impl Sync for Library {}

impl Library {
    fn table(&self) -> &FfiPlugin {
        &self.table
    }
}

/// A process's state in a library: the library's pointer (null when
/// `create` failed).
struct LibraryState {
    state: *mut std::ffi::c_void,
    library: Arc<Library>,
}

// SAFETY: the C ABI's contract: a state may move between threads, and the
// VM uses it for one call at a time.
unsafe impl Send for LibraryState {}

impl Drop for LibraryState {
    fn drop(&mut self) {
        if let (false, Some(drop)) = (self.state.is_null(), self.library.table().drop) {
            // SAFETY: made by the library's `create`, dropped once.
            unsafe { drop(self.state) };
        }
    }
}

/// Loads a plugin library: its name for messages, and the plugin.
pub(crate) fn load(path: &Path) -> Result<(String, Plugin), PluginError> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let fail = |problem: String, hint: &str| PluginError {
        plugin: path.display().to_string(),
        problem,
        hint: hint.to_string(),
    };
    // Every symbol is bound now (RTLD_NOW), so a library that needs one
    // nothing defines is refused here, naming it, rather than aborting the
    // VM at its first call.
    // SAFETY: loading a library runs its initialisers: native code the user
    // chose to trust (--native-plugin says it runs outside the sandbox).
    let library = unsafe {
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
        Library::open(Some(path), RTLD_NOW | RTLD_LOCAL)
    }
    .map(libloading::Library::from)
    .map_err(|e| {
        let e = e.to_string();
        match e.split_once("undefined symbol: ") {
            Some((_, symbol)) => fail(
                format!("needs the symbol `{}`, which nothing loaded defines", symbol.trim()),
                "link the library against what defines it (-l…), or define it",
            ),
            None => fail(
                format!("cannot be loaded: {e}"),
                "give the path of a shared library built for this machine (a Rust cdylib, or C with -shared -fPIC)",
            ),
        }
    })?;
    let symbol = vm_plugin::ENTRY_SYMBOL;
    // SAFETY: the symbol's type is the C ABI's entry, `const FfiPlugin *(void)`.
    let entry = unsafe { library.get::<unsafe extern "C" fn() -> *const FfiPlugin>(symbol.as_bytes()) }
        .map_err(|_| {
            fail(
                format!("exports no `{symbol}`, so it is not a plugin library"),
                "export it with vm_plugin::export_native_plugin!(…) in Rust, or as sdk-c/include/vm_native_plugin.h says in C",
            )
        })?;
    // SAFETY: as above.
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(fail(
            format!("its `{symbol}` returned null"),
            "return a pointer to a table that lives as long as the library",
        ));
    }
    // The version first, read alone: a table of another version may have
    // another layout.
    // SAFETY: every version's table starts with its u32 version.
    let version = unsafe { std::ptr::read_unaligned(table.cast::<u32>()) };
    let old = |v: FfiPluginV2| {
        (
            FfiPlugin {
                abi_version: v.abi_version,
                error: v.error,
                wit: v.wit,
                functions: v.functions,
                function_count: v.function_count,
                create: v.create,
                drop: v.drop,
                call: None,
                size: v.size,
            },
            v.call.map(Call::V2),
        )
    };
    let (table, call) = match version {
        1 => {
            // SAFETY: a table of version 1 has version 1's layout.
            let v1 = unsafe { std::ptr::read_unaligned(table.cast::<FfiPluginV1>()) };
            old(FfiPluginV2 {
                abi_version: v1.abi_version,
                error: v1.error,
                wit: v1.wit,
                functions: v1.functions,
                function_count: v1.function_count,
                create: v1.create,
                drop: v1.drop,
                call: v1.call,
                size: None,
            })
        }
        // SAFETY: as above, for this version.
        2 => old(unsafe { std::ptr::read_unaligned(table.cast::<FfiPluginV2>()) }),
        vm_plugin::ABI_VERSION => {
            // SAFETY: as above, for this version.
            let mut t = unsafe { std::ptr::read_unaligned(table) };
            let call = t.call.take().map(Call::V3);
            (t, call)
        }
        _ => {
            return Err(fail(
                format!(
                    "was built for native plugin ABI {version}; this VM serves ABI 1 to {}",
                    vm_plugin::ABI_VERSION
                ),
                "rebuild it against this VM's vm-plugin crate or vm_native_plugin.h",
            ))
        }
    };
    let Some(call) = call else {
        return Err(fail(
            "its table has no create or no call function".into(),
            "set both; drop may be null",
        ));
    };
    let library = Arc::new(Library {
        table,
        call,
        _library: library,
    });
    let t = library.table();
    if t.create.is_none() {
        return Err(fail(
            "its table has no create or no call function".into(),
            "set both; drop may be null",
        ));
    }
    if t.functions.is_null() && t.function_count > 0 {
        return Err(fail(
            format!(
                "its table names {} functions but points to none",
                t.function_count
            ),
            "point functions at an array of function_count names",
        ));
    }
    // SAFETY: the table's strings are readable while the library is loaded.
    let text = |what: &str, s: &FfiStr| match unsafe { s.bytes() } {
        Some(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        None => Err(fail(
            format!("its table's {what} is a null pointer with length {}", s.len),
            "point it at the bytes, or give it length 0",
        )),
    };
    if t.error.len > 0 {
        return Err(fail(
            format!("could not start: {}", text("error", &t.error)?),
            "fix the plugin",
        ));
    }
    let wit = text("wit", &t.wit)?;
    let package = Package::parse(&name, &wit).map_err(|e| {
        fail(
            format!("its WIT is not a plugin package: {e:#}"),
            "see abi/README.md, Plugins",
        )
    })?;
    let names: Vec<String> = (0..t.function_count)
        // SAFETY: `functions` holds `function_count` entries.
        .map(|i| text("function name", unsafe { &*t.functions.add(i) }))
        .collect::<Result<_, _>>()?;
    let mut functions = Vec::new();
    for (index, path) in names.iter().enumerate() {
        let declared = path.split_once('.').and_then(|(iface, func)| {
            let iface = package.interfaces.iter().find(|i| i.name == iface)?;
            iface.functions.iter().find(|f| f.name == func)
        });
        let Some(declared) = declared else {
            return Err(fail(
                format!("implements `{path}`, which its WIT does not declare"),
                "name each function INTERFACE.FUNCTION as the WIT does",
            ));
        };
        if matches!(call, Call::V2(_)) && !in_v2(declared) {
            return Err(fail(
                format!(
                    "declares `{path}` as `{}`, which a library of native plugin ABI {version} cannot carry",
                    declared.wit_type()
                ),
                "rebuild it against this VM's vm-plugin crate (ABI 3 carries the whole of WIT)",
            ));
        }
        let returns = Returns::of(declared.result_type.as_ref());
        let library = library.clone();
        functions.push(Function {
            name: path.clone(),
            params: declared
                .param_types
                .iter()
                .map(|(_, t)| native_type(t))
                .collect(),
            result: declared.result_type.as_ref().map(native_type),
            handler: Handler::Sync(Box::new(move |state, values| {
                call_library(&library, index, returns, state, values)
            })),
        });
    }
    let creator = library.clone();
    let new_state = move || -> State {
        let create = creator.table().create.expect("checked at load");
        // SAFETY: the library's `create`, per the C ABI.
        let state = unsafe { create() };
        Box::new(LibraryState {
            state,
            library: creator.clone(),
        })
    };
    let measure = library.clone();
    let size = move |state: &State| -> usize {
        let state = state
            .downcast_ref::<LibraryState>()
            .expect("the state this plugin made");
        match measure.table().size {
            // SAFETY: the library's `size`, per the C ABI, between calls.
            Some(size) if !state.state.is_null() => unsafe { size(state.state) },
            _ => 0,
        }
    };
    // The VM checks the functions against the WIT, as for any native plugin.
    let plugin = Plugin::from_functions(wit, new_state, functions).with_state_size(Box::new(size));
    Ok((name, plugin))
}

/// Whether versions 1 and 2 of the C ABI can carry a function: its
/// parameters `bool`, integers, `string` or `list<u8>`, its result none, one
/// of those, or an `option` or `result` of them.
fn in_v2(f: &vm_abi::plugin::Function) -> bool {
    let plain = |t: &Ty| match t {
        Ty::Bool
        | Ty::U8
        | Ty::U16
        | Ty::U32
        | Ty::U64
        | Ty::S8
        | Ty::S16
        | Ty::S32
        | Ty::S64
        | Ty::String => true,
        Ty::List(e) => **e == Ty::U8,
        _ => false,
    };
    f.param_types.iter().all(|(_, t)| plain(t))
        && match &f.result_type {
            None => true,
            Some(Ty::Option(t)) => plain(t),
            Some(Ty::Result(ok, err)) => ok.iter().chain(err).all(|t| plain(t)),
            Some(t) => plain(t),
        }
}

/// How versions 1 and 2 of the C ABI return a function's result: a case
/// (an option's or result's) and a payload.
#[derive(Clone, Copy)]
enum Returns {
    Nothing,
    One,
    Option,
    Result,
}

impl Returns {
    fn of(result: Option<&Ty>) -> Returns {
        match result {
            None => Returns::Nothing,
            Some(Ty::Option(_)) => Returns::Option,
            Some(Ty::Result(..)) => Returns::Result,
            Some(_) => Returns::One,
        }
    }
}

/// One call through the C ABI.
fn call_library(
    library: &Library,
    index: usize,
    returns: Returns,
    state: &mut State,
    values: Vec<Value>,
) -> Outcome {
    let state = state
        .downcast_mut::<LibraryState>()
        .expect("the state this plugin made");
    if state.state.is_null() {
        return Err(
            "the plugin could not make a state for this process (its create returned null)".into(),
        );
    }
    match library.call {
        Call::V2(call) => call_v2(call, index, returns, state.state, values),
        Call::V3(call) => call_v3(call, index, state.state, values),
    }
}

/// A call of version 3: values as trees, the result a value (kind 0 for
/// none).
fn call_v3(call: CallV3, index: usize, state: *mut c_void, values: Vec<Value>) -> Outcome {
    let mut arena = FfiArena::default();
    let args: Vec<FfiValue3> = values.iter().map(|v| to_ffi3(v, &mut arena)).collect();
    let mut out = FfiValue3::NONE;
    // SAFETY: the C ABI: a state of this library, readable arguments that
    // outlive the call, a writable result.
    let status = unsafe { call(state, index, args.as_ptr(), args.len(), &mut out) };
    drop(arena);
    let value = match out.kind {
        0 => None,
        // SAFETY: the result's bytes and items are valid until the next
        // call with this state, and are copied here.
        _ => Some(
            unsafe { from_ffi3(&out) }
                .map_err(|why| format!("returned {why} (a fault in the plugin)"))?,
        ),
    };
    if status != 0 {
        return Err(match value {
            Some(Value::String(why)) => why,
            _ => "failed, without saying why".into(),
        });
    }
    Ok(value)
}

/// A call of versions 1 and 2: the subset's values, the result as a case
/// and a payload.
fn call_v2(
    call: CallV2,
    index: usize,
    returns: Returns,
    state: *mut c_void,
    values: Vec<Value>,
) -> Outcome {
    let args: Vec<FfiValue> = values.iter().map(to_ffi).collect();
    let mut out = FfiReturn {
        case: 0,
        value: FfiValue {
            kind: 0,
            bits: 0,
            bytes: FfiStr::new(&[]),
        },
    };
    // SAFETY: the C ABI: a state of this library, readable arguments that
    // outlive the call, a writable result.
    let status = unsafe { call(state, index, args.as_ptr(), args.len(), &mut out) };
    // SAFETY: the result's bytes are valid until the next call with this
    // state, and are copied here.
    let value = unsafe { from_ffi(&out.value) };
    if status != 0 {
        return Err(match value {
            Some(Value::String(why)) => why,
            _ => "failed, without saying why".into(),
        });
    }
    if out.value.kind != 0 && value.is_none() {
        if out.value.bytes.ptr.is_null() && out.value.bytes.len > 0 {
            return Err(format!(
                "returned a string or list at a null pointer with length {} (a fault in the plugin)",
                out.value.bytes.len
            ));
        }
        return Err("returned a value of an unknown kind, or a string that is not UTF-8 (a fault in the plugin)".into());
    }
    let wrong =
        || Err("returned another case than its WIT has (a fault in the plugin)".to_string());
    let case = |case: u32, v: Option<Value>| Some(Value::Case(case, v.map(Box::new)));
    Ok(match (returns, out.case) {
        (Returns::Nothing, 0) => None,
        (Returns::One, 0) => match value {
            Some(v) => Some(v),
            None => return wrong(),
        },
        (Returns::Option, 0) => case(0, None),
        (Returns::Option, 1) => match value {
            Some(v) => case(1, Some(v)),
            None => return wrong(),
        },
        (Returns::Result, c @ (0 | 1)) => case(c, value),
        _ => return wrong(),
    })
}
