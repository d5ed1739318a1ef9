/* vm.h: write processes for the vm:host actor VM in C.
 *
 * A process is a WebAssembly instance with its own memory and mailbox.
 * Processes share nothing: they spawn each other, exchange messages (bytes
 * with a tag, encoded with the postcard codec below so they interoperate with
 * Rust and AssemblyScript processes), link and monitor each other with
 * Erlang's semantics, and own TCP sockets that can move between them.
 *
 * Every call that can fail returns a vm_status_t: VM_OK (0), or a status
 * whose name vm_strerror() gives; vm_last_error() copies the explanation of
 * the last failed call, the VM's or the SDK's own.
 *
 * Resources (listeners, streams, halves, modules) are handles wrapped in one
 * struct type per kind. Calls that move or consume one (split, reunite,
 * close, sending or spawning with handles) take a pointer to it and zero it
 * once it has gone, so a later use fails with VM_E_INVALID_HANDLE (0 is
 * never a valid handle) rather than naming something else. Calls that move
 * several handles at once take an array and zero its entries: a handle
 * copied into the array from a typed struct leaves that struct holding the
 * old number, so zero it yourself (or pass `&x.handle` for a single one).
 * Since ABI 1.4 these calls take non-const pointers (vm_tcp_split,
 * vm_tcp_reunite, vm_spawn and vm_send_handles' handle arrays,
 * vm_load_module's module): code that passed values needs an `&`.
 *
 * Plugins: `vm bindgen PLUGIN.wit --lang c` writes a header of typed calls
 * to a plugin's functions. Built with wasi-libc, vm.c exports the
 * `cabi_realloc` through which the VM hands back the strings and lists those
 * calls return (the caller frees them with free()); a freestanding module
 * that needs one defines its own.
 *
 * Build with Debian's clang, lld, wasi-libc and compiler-rt's wasm32
 * builtins (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32;
 * the last one's number is clang's major version, `clang -dumpversion`):
 *     clang --target=wasm32-wasi --sysroot=/usr -std=c11 -O2 -Wl,--stack-first \
 *         -Isdk-c/include app.c sdk-c/src/vm.c sdk-c/src/codec.c -o app.wasm
 * or freestanding (no libc; define your own `void _start(void)`):
 *     clang --target=wasm32 -ffreestanding -nostdlib -Wl,--no-entry -Wl,--stack-first \
 *         -Wl,--export=_start -Isdk-c/include app.c sdk-c/src/vm.c sdk-c/src/codec.c -o app.wasm
 * --stack-first puts the stack below the data, so a stack overflow traps
 * instead of silently overwriting globals.
 */
#ifndef VM_H
#define VM_H

#include "vm_abi.h"

#ifdef __cplusplus
extern "C" {
#define VM_NORETURN [[noreturn]]
#else
#define VM_NORETURN _Noreturn
#endif

/* ---- status ---- */

/* 0 on success; otherwise 1 + an ABI error code (VM_ERROR_CODE_*), or one of
 * the SDK's own statuses below. */
typedef int vm_status_t;
#define VM_OK 0
#define VM_STATUS(abi_code) ((vm_status_t)(abi_code) + 1)
#define VM_E_INVALID_HANDLE VM_STATUS(VM_ERROR_CODE_INVALID_HANDLE)
#define VM_E_OUT_OF_BOUNDS VM_STATUS(VM_ERROR_CODE_OUT_OF_BOUNDS)
#define VM_E_INVALID_ARGUMENT VM_STATUS(VM_ERROR_CODE_INVALID_ARGUMENT)
#define VM_E_TIMEOUT VM_STATUS(VM_ERROR_CODE_TIMEOUT)
#define VM_E_NOT_FOUND VM_STATUS(VM_ERROR_CODE_NOT_FOUND)
#define VM_E_ALREADY_REGISTERED VM_STATUS(VM_ERROR_CODE_ALREADY_REGISTERED)
#define VM_E_MODULE_INVALID VM_STATUS(VM_ERROR_CODE_MODULE_INVALID)
#define VM_E_MODULE_INCOMPATIBLE VM_STATUS(VM_ERROR_CODE_MODULE_INCOMPATIBLE)
#define VM_E_PERMISSION_DENIED VM_STATUS(VM_ERROR_CODE_PERMISSION_DENIED)
#define VM_E_LIMIT_REACHED VM_STATUS(VM_ERROR_CODE_LIMIT_REACHED)
#define VM_E_CONNECTION_REFUSED VM_STATUS(VM_ERROR_CODE_CONNECTION_REFUSED)
#define VM_E_CONNECTION_RESET VM_STATUS(VM_ERROR_CODE_CONNECTION_RESET)
#define VM_E_ADDRESS_IN_USE VM_STATUS(VM_ERROR_CODE_ADDRESS_IN_USE)
#define VM_E_UNREACHABLE VM_STATUS(VM_ERROR_CODE_UNREACHABLE)
#define VM_E_NOT_PAIRED VM_STATUS(VM_ERROR_CODE_NOT_PAIRED)
#define VM_E_IO VM_STATUS(VM_ERROR_CODE_IO)
/* The SDK's own statuses: */
/* A message did not decode. */
#define VM_E_DECODE 1000
/* A buffer (or VM_MAX_CAPTURE) was too small for what had to go in it. */
#define VM_E_BUFFER_TOO_SMALL 1001
/* A try-write found the socket's send buffer full: nothing was written. */
#define VM_E_WOULD_BLOCK 1002
/* The process a request went to ended before it replied (vm_request). */
#define VM_E_DOWN 1003

/* The status's name ("timeout", "decode", "would-block", ...). */
const char *vm_strerror(vm_status_t status);
/* Copies the text explaining the last failed call (NUL-terminated, cut to
 * `cap`); returns its full length. After a failure of the SDK's own (a
 * buffer too small, a message that did not decode, an argument the SDK
 * refuses) it is the SDK's text, so a failure never shows the text of an
 * older one; after a VM failure it is the VM's. Successful calls leave it
 * as it is. Raw vm_raw_* calls that fail do not replace an SDK text. */
size_t vm_last_error(char *buf, size_t cap);
/* The ABI version the VM serves (version.abi-version): the newest minor of
 * its major, which may be newer than VM_ABI_MAJOR.VM_ABI_MINOR, the version
 * this SDK was built against. */
vm_semver_t vm_abi_version(void);

/* ---- processes ---- */

typedef vm_process_id_t vm_pid_t;
#define VM_FOREVER (-1)

vm_pid_t vm_self(void);

/* A function a spawned process runs, with the capture it was given. */
typedef void (*vm_process_fn)(const uint8_t *capture, size_t len);

/* Starts `fn` in a new process of this module with a copy of `capture`
 * (at most VM_MAX_CAPTURE bytes), moving `handles` (sockets, say) to it:
 * the new process takes them with vm_take_handle(0..) before its first
 * receive. On success the moved entries of `handles` are zeroed; on failure
 * nothing moves. `link` links it to this process. `out` may be NULL.
 * Errors: VM_E_BUFFER_TOO_SMALL for a larger capture, VM_E_LIMIT_REACHED at
 * the VM's process limit, VM_E_INVALID_HANDLE for a handle not owned. */
#define VM_MAX_CAPTURE 4096
/* Hibernates this process (Erlang's erlang:hibernate/3, ABI 1.4): it gives
 * up its instance, stack and memory, keeping its id, mailbox, links,
 * monitors, names and handles. When a message arrives (at once if one is
 * queued), `fn` runs in a fresh instance with a copy of `state` (at most
 * VM_MAX_CAPTURE bytes), `handles` moving with it as with vm_spawn. Never
 * returns. */
VM_NORETURN void vm_hibernate(vm_process_fn fn, const void *state, size_t len, vm_handle_t *handles,
                              size_t nhandles);
vm_status_t vm_spawn(vm_process_fn fn, const void *capture, size_t len, vm_handle_t *handles, size_t nhandles,
                     bool link, vm_pid_t *out);

/* A compiled WebAssembly module that processes can be spawned from. */
typedef struct vm_module { vm_handle_t handle; } vm_module_t;
/* Compiles `bytes`, checking them against the VM's ABI first.
 * Errors: VM_E_MODULE_INVALID, VM_E_MODULE_INCOMPATIBLE (the text says which
 * import). */
vm_status_t vm_load_module(const void *bytes, size_t len, vm_module_t *out);
/* Starts export `entry` (taking () or (i32) = `arg`) of a loaded module; its
 * first message (kind init) carries `init`. The module stays loaded. */
vm_status_t vm_spawn_module(vm_module_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                            bool link, vm_pid_t *out);
/* Releases the module and zeroes `*module` (processes spawned from it run
 * on). VM_E_INVALID_HANDLE if it was not owned (it is zeroed either way). */
vm_status_t vm_module_close(vm_module_t *module);

vm_status_t vm_link(vm_pid_t target);
void vm_unlink(vm_pid_t target);
/* Returns the monitor reference that tags the down message. */
uint64_t vm_monitor(vm_pid_t target);
void vm_demonitor(uint64_t monitor);
void vm_kill(vm_pid_t target);
bool vm_trap_exits(bool enabled);
/* Ends this process (flushing stdio in hosted builds); NULL or "" is a
 * normal exit, any other text the exit reason. */
VM_NORETURN void vm_exit(const char *reason);
/* Ends this process as a crash does (reason `trap`, which links and
 * monitors see and supervisors restart), with `message` as the reason
 * (flushing stdio in hosted builds, and printing it to stderr) (ABI 1.5).
 * In hosted builds C's own assert and abort() end through it too:
 * "assertion failed: EXPR at FILE:LINE in FUNCTION" and "abort() was
 * called". */
VM_NORETURN void vm_panic(const char *message);
/* An assertion that, failing, ends the process through vm_panic with
 * "assertion failed: EXPR at FILE:LINE" as the reason, as C's assert does
 * here; unlike assert, kept in NDEBUG builds and in builds without libc. */
#define VM_ASSERT(expr)                                                                            \
    ((expr) ? (void)0 : vm_panic("assertion failed: " #expr " at " __FILE__ ":" VM_STRINGIFY_(__LINE__)))
#define VM_STRINGIFY_(x) VM_STRINGIFY2_(x)
#define VM_STRINGIFY2_(x) #x
/* Sleeps at least `ms` milliseconds (a huge value sleeps forever). */
void vm_sleep_ms(uint64_t ms);
/* Sends `target` an exit signal (Erlang's exit/2, ABI 1.3): a process that
 * traps exits receives it as an exit message from this one; otherwise a
 * non-empty reason ends it, and NULL or "" (normal) is ignored. Unlike
 * vm_kill, it can be trapped. */
void vm_send_exit(vm_pid_t target, const char *reason);
/* Releases a raw handle; prefer the typed close functions, which also zero
 * the caller's copy. */
vm_status_t vm_drop(vm_handle_t handle);

/* ---- messages ---- */

vm_status_t vm_send(vm_pid_t to, uint64_t tag, const void *data, size_t len);
/* Sends, moving `handles` (sockets, modules) to the receiver: on success
 * the entries of `handles` are zeroed; on failure nothing is sent or moved.
 * Pass a typed resource's `&x.handle` to have `x` zeroed. */
vm_status_t vm_send_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, vm_handle_t *handles,
                            size_t nhandles);
/* A received message: its envelope and (up to `cap`) its bytes in `buf`.
 * `truncated` is set when the message was larger than the buffer: `data`
 * then holds only its first `len` bytes (`envelope.size` says how many it
 * has), which must not be decoded as if whole. */
typedef struct vm_message {
    vm_envelope_t envelope;
    uint8_t *data;
    size_t len;
    bool truncated;
} vm_message_t;
/* Waits for the oldest message whose kind is in `kinds` (VM_MESSAGE_KINDS_*)
 * and, if `ntags` > 0, whose tag is listed; others stay queued. `timeout_ms`
 * < 0 waits forever. The bytes go to `buf`, in the same call into the VM.
 * A message larger than `cap` is still received (VM_OK, so a receive loop
 * goes on) with `out->truncated` set: skip it by receiving the next one, or
 * read it whole with vm_receive_rest. Its handles (envelope.handles) must be
 * taken with vm_take_handle before the next receive, or the VM closes them. */
vm_status_t vm_receive(const uint64_t *tags, size_t ntags, vm_message_kinds_t kinds, int64_t timeout_ms, void *buf,
                       size_t cap, vm_message_t *out);
/* Copies the current message's next bytes into `buf`; `*n` says how many (0
 * at its end). A failure (no current message, a buffer outside memory) is
 * a status, never a 0 that looks like the end. */
vm_status_t vm_read(void *buf, size_t cap, size_t *n);
/* Reads all of `m`, the message just received (truncated or not), into
 * `buf`, and points `m` at it. VM_E_BUFFER_TOO_SMALL (and `m` unchanged) if
 * `cap` is less than `m->envelope.size`; call it before the next receive. */
vm_status_t vm_receive_rest(vm_message_t *m, void *buf, size_t cap);
/* Takes handle number `index` of the current message. */
vm_status_t vm_take_handle(uint32_t index, vm_handle_t *out);
uint64_t vm_fresh_tag(void);

/* ---- exit reasons ----
 * Why a process ended, as down and exit messages carry it: a one-byte code
 * (vm_exit_reason_t, VM_EXIT_REASON_*) then UTF-8 text, the reason given to
 * vm_exit or vm_send_exit, or why the process trapped. */

typedef struct vm_reason {
    vm_exit_reason_t kind; /* VM_EXIT_REASON_*; a newer VM may send other codes */
    const char *text;      /* not NUL-terminated; points into the message's buffer */
    size_t text_len;
} vm_reason_t;
/* Decodes the reason a down or exit message carries. Its text points into
 * `m`'s buffer (valid while it is), and is only the part the buffer held
 * when `m` is truncated (the kind is always whole).
 * Errors: VM_E_DECODE if `m` is not a down or exit message, or is empty. */
vm_status_t vm_decode_exit_reason(const vm_message_t *m, vm_reason_t *out);
/* The kind's name: "normal", "exit", "trap", "killed", "noproc", "noconnection" (or
 * "unknown"). */
const char *vm_exit_reason_name(vm_exit_reason_t kind);
/* Waits (as vm_receive) for the down message of `monitor` and decodes it
 * into `reason`; the monitor is then gone. VM_E_TIMEOUT if none arrives in
 * `timeout_ms` (< 0 waits forever); `m` (its sender is the process that
 * ended) and `reason` point into `buf`. */
vm_status_t vm_receive_down(uint64_t monitor, int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m,
                            vm_reason_t *reason);
/* Waits for the next exit message (a linked process ended while this one
 * traps exits; m->envelope.sender is it), as vm_receive_down. */
vm_status_t vm_receive_exit(int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m, vm_reason_t *reason);

/* ---- registry and timers ---- */

vm_status_t vm_register(const char *name, vm_pid_t pid);
vm_status_t vm_lookup(const char *name, vm_pid_t *out);
vm_status_t vm_unregister(const char *name);
/* Sends a data message after `delay_ms` (Erlang's send_after); returns the
 * timer's reference, for vm_cancel_timer. */
uint64_t vm_send_after(vm_pid_t to, uint64_t tag, const void *data, size_t len, uint64_t delay_ms);
/* vm_send_after for a message that carries handles (ABI 1.4): they leave
 * this process now (their entries are zeroed) and reach `to` when the timer
 * fires; if it is cancelled, or `to` ends first, they are closed. `timer`
 * may be NULL. Errors: VM_E_INVALID_HANDLE (nothing moves) for a handle
 * not owned. */
vm_status_t vm_send_after_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, vm_handle_t *handles,
                                  size_t nhandles, uint64_t delay_ms, uint64_t *timer);
/* Cancels a timer; true if it had not fired yet. */
bool vm_cancel_timer(uint64_t timer);

/* ---- nodes and global names (ABI 1.8; `vm run --cluster`) ---- */

/* A process id's top 16 bits are its node's slot; outside a cluster the VM
 * is node 0, named "local", alone. */
#define VM_NODE_OF(pid) ((uint32_t)((uint64_t)(pid) >> 48))
/* The id that names node `slot` itself: the sender of its monitor's down. */
#define VM_NODE_ID(slot) ((vm_pid_t)(slot) << 48)
/* This process's node. */
uint32_t vm_node_self(void);
/* Writes the slots of the nodes up now, this one first, to `out` (room
 * for `cap`); returns how many are up (more than `cap`: cut short). */
size_t vm_node_up(uint32_t *out, size_t cap);
/* Writes node `slot`'s name (its --node), NUL-terminated, to `buf` (cut to
 * fit `cap`); `*len` (may be NULL) gets its full length. VM_E_NOT_FOUND if
 * the node is not up. */
vm_status_t vm_node_name(uint32_t slot, char *buf, size_t cap, size_t *len);
/* Erlang's monitor_node: when node `slot` goes down (at once if it is not
 * up), a down message tagged with the returned reference arrives from
 * VM_NODE_ID(slot), reason "noconnection" (vm_receive_down waits for it).
 * This process's own node never goes down while it lives. */
uint64_t vm_monitor_node(uint32_t slot);
void vm_demonitor_node(uint64_t monitor);
/* vm_spawn on node `slot` (Erlang's spawn(Node, ...)): the module travels
 * there by its hash and runs under that node's limits. No handles: they
 * cannot cross nodes. VM_E_PERMISSION_DENIED if that node does not accept
 * spawns from this one or this module (vm run --accept-spawn-from NODE
 * --accept-module HASH, or '*'); VM_E_NOT_FOUND if it is not up. */
vm_status_t vm_spawn_on(uint32_t slot, vm_process_fn fn, const void *capture, size_t len, bool link, vm_pid_t *out);
/* vm_spawn_module on node `slot`, as vm_spawn_on. */
vm_status_t vm_spawn_module_on(uint32_t slot, vm_module_t module, const char *entry, uint32_t arg, const void *init,
                               size_t len, bool link, vm_pid_t *out);
/* Names across the cluster, as Erlang's global: one holder per name, freed
 * when it ends or its node goes down. `pid` must be of this node
 * (VM_E_INVALID_ARGUMENT otherwise); VM_E_ALREADY_REGISTERED if a live
 * process anywhere holds the name; VM_E_UNREACHABLE if the cluster's store
 * cannot be reached. Outside a cluster they are this VM's, apart from
 * vm_register's. */
vm_status_t vm_register_global(const char *name, vm_pid_t pid);
/* VM_E_NOT_FOUND if no live process holds it. */
vm_status_t vm_lookup_global(const char *name, vm_pid_t *out);
vm_status_t vm_unregister_global(const char *name);

/* ---- TCP ----
 * Distinct types make misuse a compile error: a read half cannot be passed
 * where writing is expected. Timeouts are in milliseconds; VM_FOREVER (any
 * value < 0) means the socket's own timeout (vm_tcp_set_read_timeout and
 * the like), or no limit if it has none. Failed calls return the VM's
 * status: VM_E_TIMEOUT, VM_E_CONNECTION_RESET, VM_E_PERMISSION_DENIED (the
 * text names the --allow-net rule to grant), VM_E_INVALID_HANDLE for a
 * socket this process does not own, ... */

typedef struct vm_tcp_listener { vm_handle_t handle; } vm_tcp_listener_t;
typedef struct vm_tcp_stream { vm_handle_t handle; } vm_tcp_stream_t;
typedef struct vm_read_half { vm_handle_t handle; } vm_read_half_t;
typedef struct vm_write_half { vm_handle_t handle; } vm_write_half_t;

/* Resolves `host` (a name or IP, optionally with `:PORT`) through the VM
 * under its --allow-net policy (a name no rule names is not looked up:
 * VM_E_PERMISSION_DENIED). Writes the addresses as text, one per line
 * ("IP:PORT"; port 0 without one), NUL-terminated, to `buf`; `*len` (may be
 * NULL) is the text's full length. VM_E_BUFFER_TOO_SMALL if it needs more
 * than `cap` - 1 bytes: call again with `*len` + 1. */
vm_status_t vm_resolve(const char *host, char *buf, size_t cap, size_t *len);

vm_status_t vm_tcp_bind(const char *address, vm_tcp_listener_t *out);
vm_status_t vm_tcp_accept(vm_tcp_listener_t listener, int64_t timeout_ms, vm_tcp_stream_t *out);
vm_status_t vm_tcp_connect(const char *address, int64_t timeout_ms, vm_tcp_stream_t *out);

/* Addresses as text ("IP:PORT"), NUL-terminated; VM_E_BUFFER_TOO_SMALL if
 * `cap` cannot hold it (64 bytes always can). */
vm_status_t vm_tcp_listener_local_address(vm_tcp_listener_t listener, char *buf, size_t cap);
vm_status_t vm_tcp_stream_local_address(vm_tcp_stream_t stream, char *buf, size_t cap);
vm_status_t vm_tcp_stream_peer_address(vm_tcp_stream_t stream, char *buf, size_t cap);
vm_status_t vm_read_half_local_address(vm_read_half_t half, char *buf, size_t cap);
vm_status_t vm_read_half_peer_address(vm_read_half_t half, char *buf, size_t cap);
vm_status_t vm_write_half_local_address(vm_write_half_t half, char *buf, size_t cap);
vm_status_t vm_write_half_peer_address(vm_write_half_t half, char *buf, size_t cap);
/* The same for any socket's raw handle. */
vm_status_t vm_tcp_local_address(vm_handle_t socket, char *buf, size_t cap);
vm_status_t vm_tcp_peer_address(vm_handle_t socket, char *buf, size_t cap);

/* Reads up to `cap` bytes; *n == 0 means end-of-stream. */
vm_status_t vm_tcp_read(vm_tcp_stream_t stream, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Reads like vm_tcp_read, but the bytes stay in the socket: the next read
 * or peek returns them again (ABI 1.4). */
vm_status_t vm_tcp_peek(vm_tcp_stream_t stream, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Writes some of `data`, waiting at most `timeout_ms` for room; `*n` says
 * how much (at least 1 byte when `len` > 0 and it returns VM_OK). */
vm_status_t vm_tcp_write(vm_tcp_stream_t stream, const void *data, size_t len, int64_t timeout_ms, size_t *n);
/* Writes what the send buffer takes now, never waiting: VM_E_WOULD_BLOCK
 * (and *n == 0) when it is full. */
vm_status_t vm_tcp_try_write(vm_tcp_stream_t stream, const void *data, size_t len, size_t *n);
/* Writes all of `data`, waiting for room as long as the socket's own write
 * timeout allows. */
vm_status_t vm_tcp_write_all(vm_tcp_stream_t stream, const void *data, size_t len);
vm_status_t vm_tcp_shutdown(vm_tcp_stream_t stream, vm_shutdown_how_t how);

/* The socket's own timeouts (ABI 1.4): a read, peek or write given
 * VM_FOREVER waits at most this long. They belong to the socket, so they
 * move with it to other processes; split gives each half its direction's,
 * reunite keeps both. `ms` < 0 (VM_FOREVER) clears it; 0 is refused with
 * VM_E_INVALID_ARGUMENT (to not wait, try-write or read with a timeout).
 * The getters give VM_FOREVER when none is set. */
vm_status_t vm_tcp_set_read_timeout(vm_tcp_stream_t stream, int64_t ms);
vm_status_t vm_tcp_set_write_timeout(vm_tcp_stream_t stream, int64_t ms);
vm_status_t vm_tcp_read_timeout(vm_tcp_stream_t stream, int64_t *ms);
vm_status_t vm_tcp_write_timeout(vm_tcp_stream_t stream, int64_t *ms);
/* TCP_NODELAY (ABI 1.4): on (small writes go at once) for every stream the
 * VM makes; off lets the kernel coalesce them. It moves with the socket. */
vm_status_t vm_tcp_set_nodelay(vm_tcp_stream_t stream, bool enabled);
vm_status_t vm_tcp_nodelay(vm_tcp_stream_t stream, bool *enabled);

/* Splits the stream into a read half and a write half (each can move to
 * another process) and zeroes `*stream`, which is consumed. */
vm_status_t vm_tcp_split(vm_tcp_stream_t *stream, vm_read_half_t *read, vm_write_half_t *write);
/* Joins two halves of one stream back into it, zeroing both. Halves of
 * different streams fail with VM_E_NOT_PAIRED, and both stay as they were. */
vm_status_t vm_tcp_reunite(vm_read_half_t *read, vm_write_half_t *write, vm_tcp_stream_t *out);

vm_status_t vm_read_half_read(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
vm_status_t vm_read_half_peek(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Shuts down reading (the peer's writes then fail or are discarded). */
vm_status_t vm_read_half_shutdown(vm_read_half_t half);
/* Erlang's {active, N} (ABI 1.5): the half's next `count` reads arrive as
 * data messages tagged `tag` instead of through vm_read_half_read (decode
 * each with vm_decode_socket_event), so the process can wait for them
 * beside its other messages, and hibernate meanwhile. After them, the
 * peer's end or an error, the half is passive again. `count` 0 makes it
 * passive now. While active, reads fail with VM_E_INVALID_ARGUMENT and the
 * half cannot move to another process. */
vm_status_t vm_read_half_set_active(vm_read_half_t half, uint32_t count, uint64_t tag);

/* What an active read half delivers. */
typedef enum vm_socket_event_kind {
    VM_SOCKET_DATA = 0,   /* bytes read: `data`, `len` (at most 64 KiB) */
    VM_SOCKET_CLOSED = 1, /* the peer closed its side */
    VM_SOCKET_ERROR = 2,  /* reading failed: `data`, `len` say why (UTF-8) */
} vm_socket_event_kind_t;

typedef struct vm_socket_event {
    vm_socket_event_kind_t kind;
    /* Points into the message's bytes, which the caller keeps. */
    const uint8_t *data;
    size_t len;
} vm_socket_event_t;

/* Decodes a message an active read half sent (its `len` bytes at `data`);
 * VM_E_DECODE if it is not one (or was truncated). */
vm_status_t vm_decode_socket_event(const void *data, size_t len, vm_socket_event_t *out);
vm_status_t vm_read_half_set_timeout(vm_read_half_t half, int64_t ms);
vm_status_t vm_read_half_timeout(vm_read_half_t half, int64_t *ms);

vm_status_t vm_write_half_write(vm_write_half_t half, const void *data, size_t len, int64_t timeout_ms, size_t *n);
vm_status_t vm_write_half_try_write(vm_write_half_t half, const void *data, size_t len, size_t *n);
vm_status_t vm_write_half_write_all(vm_write_half_t half, const void *data, size_t len);
/* Shuts down writing: the peer reads end-of-stream. */
vm_status_t vm_write_half_shutdown(vm_write_half_t half);
vm_status_t vm_write_half_set_timeout(vm_write_half_t half, int64_t ms);
vm_status_t vm_write_half_timeout(vm_write_half_t half, int64_t *ms);
vm_status_t vm_write_half_set_nodelay(vm_write_half_t half, bool enabled);
vm_status_t vm_write_half_nodelay(vm_write_half_t half, bool *enabled);

/* Close the resource and zero `*x`, so a later use fails with
 * VM_E_INVALID_HANDLE. Closing a stream closes the connection; closing a
 * write half shuts down writing, and the socket closes when both halves are
 * gone. VM_E_INVALID_HANDLE if it was not owned (it is zeroed either way). */
vm_status_t vm_tcp_listener_close(vm_tcp_listener_t *listener);
vm_status_t vm_tcp_close(vm_tcp_stream_t *stream);
vm_status_t vm_read_half_close(vm_read_half_t *half);
vm_status_t vm_write_half_close(vm_write_half_t *half);

/* ---- postcard codec ----
 * The wire format every SDK shares: varints for integers (zigzag for signed;
 * u8 and i8 as one byte), bool as a byte, floats little-endian, bytes and
 * strings as a varint length then the bytes, sequences as a varint count then
 * the items, options as 0 or 1 then the value, enums as a varint variant
 * index then the fields, structs as their fields in order.
 * Writers never write past `cap` and readers never read past `len`: they set
 * a sticky error flag instead, which vm_writer_status/vm_reader_status report. */

/* `len` is what was written; `needed` what the whole encoding takes, counted
 * on after an overflow, so a caller can size a buffer and encode again. */
typedef struct vm_writer {
    uint8_t *data;
    size_t cap;
    size_t len;
    size_t needed;
    bool overflow;
} vm_writer_t;

void vm_writer_init(vm_writer_t *w, void *buf, size_t cap);
void vm_put_u8(vm_writer_t *w, uint8_t v);
void vm_put_i8(vm_writer_t *w, int8_t v);
void vm_put_u64(vm_writer_t *w, uint64_t v); /* also u16, u32 */
void vm_put_i64(vm_writer_t *w, int64_t v);  /* also i16, i32 */
void vm_put_bool(vm_writer_t *w, bool v);
void vm_put_f32(vm_writer_t *w, float v);
void vm_put_f64(vm_writer_t *w, double v);
void vm_put_bytes(vm_writer_t *w, const void *data, size_t len);
void vm_put_str(vm_writer_t *w, const char *s); /* NUL-terminated */
void vm_put_len(vm_writer_t *w, size_t count);  /* a sequence's length */
void vm_put_option(vm_writer_t *w, bool present);
void vm_put_variant(vm_writer_t *w, uint32_t index);
vm_status_t vm_writer_status(const vm_writer_t *w); /* VM_OK or VM_E_BUFFER_TOO_SMALL */
/* Sends what `w` encoded; VM_E_BUFFER_TOO_SMALL (sending nothing) if it
 * overflowed, when `w->needed` says how large a buffer to encode into. */
vm_status_t vm_send_writer(vm_pid_t to, uint64_t tag, const vm_writer_t *w);

typedef struct vm_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool error;
} vm_reader_t;

void vm_reader_init(vm_reader_t *r, const void *data, size_t len);
/* A reader over a received message's bytes; one over a truncated message
 * is in error from the start, so its prefix is never decoded as if whole. */
void vm_reader_init_message(vm_reader_t *r, const vm_message_t *m);
uint8_t vm_get_u8(vm_reader_t *r);
int8_t vm_get_i8(vm_reader_t *r);
uint16_t vm_get_u16(vm_reader_t *r);
uint32_t vm_get_u32(vm_reader_t *r);
uint64_t vm_get_u64(vm_reader_t *r);
int16_t vm_get_i16(vm_reader_t *r);
int32_t vm_get_i32(vm_reader_t *r);
int64_t vm_get_i64(vm_reader_t *r);
bool vm_get_bool(vm_reader_t *r);
float vm_get_f32(vm_reader_t *r);
double vm_get_f64(vm_reader_t *r);
/* Bytes without copying: *data points into the reader's buffer. */
size_t vm_get_bytes(vm_reader_t *r, const uint8_t **data);
/* A UTF-8 string without copying (not NUL-terminated). */
size_t vm_get_str(vm_reader_t *r, const char **s);
/* A sequence's element count: at most 2^32 - 1 and at most the bytes left
 * (each element takes at least one), else a decode error and 0. */
size_t vm_get_len(vm_reader_t *r);
bool vm_get_option(vm_reader_t *r);
uint32_t vm_get_variant(vm_reader_t *r);
/* VM_OK if everything decoded and all input was used; VM_E_DECODE otherwise. */
vm_status_t vm_reader_finish(const vm_reader_t *r);
/* VM_OK if no error so far (input may remain). */
vm_status_t vm_reader_status(const vm_reader_t *r);

/* ---- request/reply ----
 * The Rust SDK's wire format (vm_sdk::request::Request<Q, R>), so C clients
 * and servers talk to Rust and AssemblyScript ones: a request is a data
 * message whose bytes are postcard (from: u64, tag: u64, body), the reply a
 * data message to `from` tagged `tag`, holding the reply's bytes.
 *
 *     vm_writer_t w;
 *     vm_request_begin(&w, buf, sizeof buf);
 *     vm_put_u64(&w, 21);                       (the body)
 *     vm_message_t reply;
 *     vm_reason_t why;
 *     switch (vm_request(server, &w, VM_FOREVER, rbuf, sizeof rbuf, &reply, &why)) { ... }
 */

/* A request's header, as the server decodes it. */
typedef struct vm_request {
    vm_pid_t from;
    uint64_t tag;
} vm_request_t;

/* Starts a request's message in `buf`: this process's id and a fresh tag
 * (vm_fresh_tag), for the body to follow. One writer per request. */
void vm_request_begin(vm_writer_t *w, void *buf, size_t cap);
/* Sends the request `w` holds to `server` and waits for the reply, while
 * monitoring the server (as gen_server:call does), so a server that ends,
 * or had ended, fails the request instead of making it wait forever.
 * Other messages stay queued, and no down message is left behind.
 * The reply goes to `buf` as vm_receive puts it (`reply->truncated` if it
 * is larger than `cap`). Errors: VM_E_TIMEOUT if none came in `timeout_ms`
 * (< 0 waits forever); VM_E_DOWN if the server ended first, with `reply`
 * the down message and `down` (may be NULL) its reason (VM_EXIT_REASON_NOPROC
 * if it had ended before); VM_E_BUFFER_TOO_SMALL if `w` overflowed;
 * VM_E_INVALID_ARGUMENT if `w` was not begun with vm_request_begin. */
vm_status_t vm_request(vm_pid_t server, const vm_writer_t *w, int64_t timeout_ms, void *buf, size_t cap,
                       vm_message_t *reply, vm_reason_t *down);
/* Decodes a request's header from `r`, a reader at the start of a received
 * data message; the body follows in `r`. VM_E_DECODE if it does not decode. */
vm_status_t vm_get_request(vm_reader_t *r, vm_request_t *req);
/* Answers a request with the reply's bytes (or what `w` encoded; an
 * overflowed writer sends nothing: VM_E_BUFFER_TOO_SMALL). */
vm_status_t vm_reply(const vm_request_t *req, const void *data, size_t len);
vm_status_t vm_reply_writer(const vm_request_t *req, const vm_writer_t *w);

#ifdef __cplusplus
}
#endif

#endif /* VM_H */
