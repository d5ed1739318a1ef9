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
 * the last failed call, the VM's or the SDK's own. The calls that return
 * something else (or nothing) are these, each for one reason:
 * - they cannot fail: vm_str, vm_str_copy, vm_strerror, vm_last_error,
 *   vm_abi_version, vm_self, vm_trap_exits, vm_sleep_ms, vm_fresh_tag,
 *   vm_exit_reason_name, vm_node_self, vm_writer_init, vm_reader_init,
 *   vm_reader_init_message, vm_request_begin, vm_utf8_valid (its answer
 *   is the bool);
 * - they return the status they are given: vm_fail;
 * - they never return: vm_exit, vm_panic, vm_hibernate (a hibernation it
 *   cannot make ends the process, with a reason that says why);
 * - Erlang's signals, which report nothing to the sender (a target that
 *   has ended, or a link or monitor that is not there, is no error):
 *   vm_unlink, vm_demonitor, vm_demonitor_node, vm_kill, vm_send_exit;
 * - the VM has no error channel for them, so past this process's budget
 *   (--max-mailbox) or the VM's (--max-host-memory) the process ends with
 *   reason trap, "…: limit-reached: …": vm_monitor, vm_monitor_node,
 *   vm_send_after (which also ends it, as a crash, for a NULL buffer with a
 *   length);
 * - their value answers: vm_cancel_timer (false: nothing was pending),
 *   vm_node_up (0 only for an `out` outside memory);
 * - the codec's vm_put_* and vm_get_* set their writer's or reader's sticky
 *   error flag instead, which vm_writer_status, vm_reader_status and
 *   vm_reader_finish report as a status.
 *
 * A NULL buffer with a length is a bug, not address 0 of memory (which
 * WebAssembly would read or write without a trap): every call that takes
 * a buffer refuses it with VM_E_INVALID_ARGUMENT, the text naming the call.
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

/* vm_status_t, VM_OK and the VM_E_* statuses come from <vm_abi.h>: one
 * table, generated from the ABI, with the same numbers and names in every
 * language's SDK. VM_STATUS maps an ABI error code (VM_ERROR_CODE_*) to
 * its status. */
#define VM_STATUS(abi_code) ((vm_status_t)(abi_code) + 1)

/* ---- text ---- */

/* Text the SDK hands out without copying: UTF-8 bytes, NOT NUL-terminated
 * (exit reasons, strings in decoded messages). It points into a buffer the
 * caller owns (a message's), valid while that is. Print one with
 *     printf("reason: " VM_STR_FMT "\n", VM_STR_ARG(r.text));
 * or copy it out, NUL-terminated, with vm_str_copy. */
typedef struct vm_str {
    const char *ptr;
    size_t len;
} vm_str_t;
#define VM_STR_FMT "%.*s"
/* The arguments VM_STR_FMT takes (`s` is evaluated twice). */
#define VM_STR_ARG(s) (int)(s).len, (s).ptr
/* A vm_str_t over NUL-terminated text (NULL gives the empty string). */
static inline vm_str_t vm_str(const char *s) {
    vm_str_t out;
    out.ptr = s ? s : "";
    out.len = 0;
    while (out.ptr[out.len]) out.len++;
    return out;
}
/* Copies `s` into `buf` NUL-terminated, cut to `cap` - 1 bytes; returns its
 * full length, so a result >= `cap` means it was cut. `cap` 0 copies
 * nothing. */
static inline size_t vm_str_copy(vm_str_t s, char *buf, size_t cap) {
    if (cap > 0) {
        size_t n = s.len < cap - 1 ? s.len : cap - 1;
        for (size_t i = 0; i < n; i++) buf[i] = s.ptr[i];
        buf[n] = 0;
    }
    return s.len;
}

/* The status's name ("timeout", "decode", "would-block", ...), a static
 * string; "unknown" for a status it does not know. */
const char *vm_strerror(vm_status_t status);
/* Copies the text explaining the last failed call (NUL-terminated, cut to
 * `cap`); returns its full length. After a failure of the SDK's own (a
 * buffer too small, a message that did not decode, an argument the SDK
 * refuses) it is the SDK's text, so a failure never shows the text of an
 * older one; after a VM failure it is the VM's. Successful calls leave it
 * as it is. Raw vm_raw_* calls that fail do not replace an SDK text.
 * `cap` 0 writes nothing and only gives the length. */
size_t vm_last_error(char *buf, size_t cap);
/* Fails as the SDK's own calls do: records `text` as what vm_last_error
 * gives ("NAME: text") and returns `status`. For code built on the SDK, as
 * the headers `vm bindgen` writes, so their failures explain themselves. */
vm_status_t vm_fail(vm_status_t status, const char *text);
/* The ABI version the VM serves (version.abi-version): the newest minor of
 * its major, which may be newer than VM_ABI_MAJOR.VM_ABI_MINOR, the version
 * this SDK was built against. It cannot fail. */
vm_semver_t vm_abi_version(void);

/* ---- processes ---- */

typedef vm_process_id_t vm_pid_t;
#define VM_FOREVER (-1)

/* This process's id (Erlang's self/0): unique for the VM's lifetime, its
 * top 16 bits the node's slot (VM_NODE_OF). It cannot fail. */
vm_pid_t vm_self(void);

/* A function a spawned process runs, with the capture it was given. */
typedef void (*vm_process_fn)(const uint8_t *capture, size_t len);

/* The most bytes a capture (vm_spawn, vm_spawn_on) or a hibernation state
 * (vm_hibernate) may hold. */
#define VM_MAX_CAPTURE 4096
/* Hibernates this process (Erlang's erlang:hibernate/3, ABI 1.4): it gives
 * up its instance, stack and memory (every pointer into it is gone),
 * keeping its id, mailbox, links, monitors, names and timers. Only the
 * handles listed in `handles` survive, moving with it as with vm_spawn
 * (take them with vm_take_handle(0..)); every other handle it holds is
 * closed, and so is the current message with its untaken handles. When a
 * message arrives (at once if one is queued; an exit message if it traps
 * exits), `fn` runs in a fresh instance with a copy of `state` (at most
 * VM_MAX_CAPTURE bytes). There is no wake-up timeout: set a timer. Never
 * returns, so no status: a larger state ends the process as a crash (reason trap); a
 * handle it does not own, or a state past its budget, ends it with reason
 * trap. */
VM_NORETURN void vm_hibernate(vm_process_fn fn, const void *state, size_t len, vm_handle_t *handles,
                              size_t nhandles);
/* Starts `fn` (a function of this module) in a new process with a copy of
 * `capture` (at most VM_MAX_CAPTURE bytes; the caller keeps its buffer),
 * moving `handles` (sockets, say) to it: `fn` takes them with
 * vm_take_handle(0..) before its first receive. `fn`'s `capture` pointer is
 * valid while `fn` runs. When `fn` returns the process ends normally, which
 * ends no linked process (see vm_link). On success the moved entries of
 * `handles` are zeroed; on failure nothing moves. `link` links it to this
 * process before it runs (Erlang's spawn_link/1). `out` may be NULL.
 * Errors: VM_E_BUFFER_TOO_SMALL for a larger capture; VM_E_LIMIT_REACHED at
 * the VM's process limit (--max-processes) or past this process's budget
 * (the capture is charged to it until the child takes it);
 * VM_E_INVALID_HANDLE for a handle not owned (or listed twice);
 * VM_E_INVALID_ARGUMENT for an active read half. */
vm_status_t vm_spawn(vm_process_fn fn, const void *capture, size_t len, vm_handle_t *handles, size_t nhandles,
                     bool link, vm_pid_t *out);

/* A compiled WebAssembly module that processes can be spawned from. */
typedef struct vm_module { vm_handle_t handle; } vm_module_t;
/* Compiles `bytes` (copied; the caller keeps them), checking them against
 * the VM's ABI first; `*out`, set on success only, is this process's until
 * vm_module_close (or moved in a message). The same bytes loaded again
 * compile nothing. Errors: VM_E_MODULE_INVALID, VM_E_MODULE_INCOMPATIBLE
 * (the text says which import), VM_E_LIMIT_REACHED past this process's
 * budget (the compiled module is charged to it). */
vm_status_t vm_load_module(const void *bytes, size_t len, vm_module_t *out);
/* Starts export `entry` (taking () or (i32) = `arg`) of a loaded module; its
 * first message (kind init) carries a copy of `init` (no VM_MAX_CAPTURE
 * bound: the module reads it itself). The module stays loaded. `link` and
 * `out` as vm_spawn. Errors: VM_E_INVALID_HANDLE for a module not owned;
 * VM_E_INVALID_ARGUMENT if it has no export `entry` of those types;
 * VM_E_LIMIT_REACHED as vm_spawn. */
vm_status_t vm_spawn_module(vm_module_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                            bool link, vm_pid_t *out);
/* Releases the module and zeroes `*module` (processes spawned from it run
 * on). VM_E_INVALID_HANDLE if it was not owned (it is zeroed either way). */
vm_status_t vm_module_close(vm_module_t *module);

/* Links this process and `target`, both ways (Erlang's link/1): when either
 * ends with a reason other than normal, the other ends with the same
 * reason, unless it traps exits (vm_trap_exits): then it gets an exit
 * message instead (vm_receive_exit), for any reason, normal included.
 * A normal end (vm_exit(NULL) or "", or `fn` or main returning) ends no
 * linked process: a TCP reader that returns at end-of-stream leaves its
 * linked writer alive, holding the socket in CLOSE-WAIT; end the reader
 * with vm_exit("disconnected") to take the writer with it. Linking twice,
 * or to itself, does nothing. Errors: VM_E_NOT_FOUND if `target` has ended
 * and this process does not trap exits (one that does gets an exit message
 * with reason noproc, and VM_OK; for another node's process the answer
 * comes later, as an exit signal); VM_E_LIMIT_REACHED past this process's
 * budget (a link costs it 128 bytes). */
vm_status_t vm_link(vm_pid_t target);
/* Removes the link with `target` (Erlang's unlink/1); unlinking a process
 * not linked, or ended, does nothing, so there is no status. After it
 * returns nothing from the link arrives: an exit signal on its way is
 * dropped and an exit message from the link already queued is removed
 * (OTP leaves it to flush; one sent with vm_send_exit stays). */
void vm_unlink(vm_pid_t target);
/* Monitors `target` (Erlang's monitor(process, Pid)): when it ends, or at
 * once with reason noproc if it has ended, this process receives one down
 * message tagged with the returned reference, from `target`
 * (vm_receive_down waits for it); the monitor is then gone. One-way: this
 * process is not affected when `target` ends; each monitor of the same
 * process delivers its own down. Each costs this process 64 bytes of its
 * budget until its down is received or it is removed (vm_demonitor). No
 * status: past the budget the VM has no error to return, and this process
 * ends with reason trap ("process.monitor: limit-reached: …"). */
uint64_t vm_monitor(vm_pid_t target);
/* Removes monitor `monitor` (Erlang's demonitor(Ref, [flush])): after it
 * returns no down for it arrives, one already queued is removed. An unknown
 * or spent reference does nothing, so there is no status. It also removes
 * a node monitor (vm_monitor_node). */
void vm_demonitor(uint64_t monitor);
/* Ends `target` with reason killed, which it cannot trap (Erlang's
 * exit(Pid, kill)); processes linked to it get killed as an ordinary
 * reason: they end too, unless they trap exits. Killing a process that
 * has ended (or never was) is not an error, so there is no status. */
void vm_kill(vm_pid_t target);
/* Sets whether this process traps exits (Erlang's process_flag(trap_exit,
 * Bool)); returns the previous setting (it cannot fail). Off (the
 * default): an exit signal with a reason other than normal, from a link or
 * vm_send_exit, ends this process, and a normal one is ignored. On: each
 * arrives as an exit message (vm_receive_exit; tag 0 from a link, 1 from
 * vm_send_exit) and the process lives on. vm_kill cannot be trapped. */
bool vm_trap_exits(bool enabled);
/* Ends this process (Erlang's exit/1), flushing stdio in hosted builds;
 * never returns. NULL or "" is a normal exit; any other text is the reason
 * (kind exit, cut to 1,024 bytes), which ends the linked processes that
 * do not trap exits. A normal exit, as `fn` or main returning is, ends no
 * linked process (those that trap exits get an exit message): a TCP
 * reader that returns at end-of-stream leaves its linked writer alive and
 * the socket in CLOSE-WAIT, so it should end with vm_exit("disconnected"). */
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
/* Sleeps at least `ms` milliseconds (a huge value sleeps forever; Erlang's
 * timer:sleep/1). It cannot fail. Messages queue meanwhile, and a kill or
 * an exit signal still ends the process. */
void vm_sleep_ms(uint64_t ms);
/* Sends `target` an exit signal (Erlang's exit/2, ABI 1.3): a process that
 * traps exits receives it as an exit message from this one; otherwise a
 * non-empty reason ends it (reason exit, the text cut to 1,024 bytes), and
 * NULL or "" (normal) is ignored, except sent to itself, which ends it
 * normally (OTP's exit(self(), normal)). Unlike vm_kill, it can be trapped.
 * No status: sending to a process that has ended is not an error. */
void vm_send_exit(vm_pid_t target, const char *reason);
/* Releases a raw handle, closing what it names when it is the last
 * reference; prefer the typed close functions, which also zero the
 * caller's copy. VM_E_INVALID_HANDLE if this process does not own it. */
vm_status_t vm_drop(vm_handle_t handle);

/* ---- messages ---- */

/* Sends a copy of `len` bytes at `data`, tagged `tag`, to `to` (Erlang's
 * `!`); the buffer is the caller's again at once. Tags of your own belong
 * in the lower half (vm_fresh_tag's have the top bit set). Sending to a
 * process that has ended is not an error (the message is dropped), and a
 * receiver past its own budget (--max-mailbox) ends, with reason trap,
 * rather than the send failing. Errors: VM_E_LIMIT_REACHED past the VM's
 * --max-host-memory (nothing is sent), or for a message too large for one
 * NATS message to another node; VM_E_OUT_OF_BOUNDS for a buffer outside
 * memory. */
vm_status_t vm_send(vm_pid_t to, uint64_t tag, const void *data, size_t len);
/* Sends, moving `handles` (sockets, modules) to the receiver: on success
 * the entries of `handles` are zeroed; on failure nothing is sent or moved.
 * Pass a typed resource's `&x.handle` to have `x` zeroed. The receiver
 * takes them with vm_take_handle; sent to a process that has ended, they
 * are closed. Errors: those of vm_send; VM_E_INVALID_HANDLE for a handle
 * not owned (or listed twice); VM_E_INVALID_ARGUMENT for an active read
 * half, or a receiver on another node (handles cannot leave theirs). */
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
 * taken with vm_take_handle before the next receive, or the VM closes them.
 * The message becomes the current one (for vm_read, vm_take_handle,
 * vm_receive_rest), replacing the previous. `tags` is read during the call
 * only; `out->data` is `buf`, valid until the caller reuses it.
 * Errors: VM_E_TIMEOUT (a `timeout_ms` of 0 only looks); VM_E_OUT_OF_BOUNDS
 * for a `buf` outside memory (no message is taken); VM_E_INVALID_ARGUMENT
 * for a `kinds` that names no kind. */
vm_status_t vm_receive(const uint64_t *tags, size_t ntags, vm_message_kinds_t kinds, int64_t timeout_ms, void *buf,
                       size_t cap, vm_message_t *out);
/* Copies the current message's next bytes into `buf`; `*n` says how many (0
 * at its end). A failure (VM_E_NOT_FOUND: no current message;
 * VM_E_OUT_OF_BOUNDS: a buffer outside memory) is a status, never a 0 that
 * looks like the end. */
vm_status_t vm_read(void *buf, size_t cap, size_t *n);
/* Reads all of `m`, the message just received (truncated or not), into
 * `buf`, and points `m` at it. VM_E_BUFFER_TOO_SMALL (and `m` unchanged) if
 * `cap` is less than `m->envelope.size`; call it before the next receive.
 * `buf` may overlap `m->data` (the part received is moved first). Other
 * errors: vm_read's. */
vm_status_t vm_receive_rest(vm_message_t *m, void *buf, size_t cap);
/* Takes handle number `index` (0 to envelope.handles - 1) of the current
 * message into this process, which owns `*out` from then on (wrap it in its
 * typed struct to use and close it, or take it typed with vm_take_tcp_stream
 * and the like, below). Errors (`*out` unchanged): VM_E_INVALID_HANDLE if
 * the message has no handle `index` left (taken already, or out of range);
 * VM_E_LIMIT_REACHED past --max-sockets or this process's budget (it stays
 * in the message: make room and take it again before the next receive). */
vm_status_t vm_take_handle(uint32_t index, vm_handle_t *out);
/* A tag never returned before in this VM (top bit set, so never one of
 * your own in the lower half, nor a monitor or timer reference), for
 * request/reply. It cannot fail. */
uint64_t vm_fresh_tag(void);

/* ---- exit reasons ----
 * Why a process ended, as down and exit messages carry it: a one-byte code
 * (vm_exit_reason_t, VM_EXIT_REASON_*) then UTF-8 text, the reason given to
 * vm_exit or vm_send_exit, or why the process trapped. */

typedef struct vm_reason {
    vm_exit_reason_t kind; /* VM_EXIT_REASON_*; a newer VM may send other codes */
    vm_str_t text;         /* points into the message's buffer: print it with VM_STR_FMT */
} vm_reason_t;
/* Decodes the reason a down or exit message carries. Its text points into
 * `m`'s buffer (valid while it is), and is only the part the buffer held
 * when `m` is truncated (the kind is always whole).
 * Errors: VM_E_DECODE if `m` is not a down or exit message, or is empty. */
vm_status_t vm_decode_exit_reason(const vm_message_t *m, vm_reason_t *out);
/* The kind's name, a static string: "normal", "exit", "trap", "killed",
 * "noproc", "noconnection" (or "unknown"). It cannot fail. */
const char *vm_exit_reason_name(vm_exit_reason_t kind);
/* Waits (as vm_receive) for the down message of `monitor` and decodes it
 * into `reason`; the monitor is then gone. VM_E_TIMEOUT if none arrives in
 * `timeout_ms` (< 0 waits forever); `m` (its sender is the process that
 * ended) and `reason` point into `buf`. Other messages stay queued. Other
 * errors: vm_receive's, and VM_E_DECODE for an empty down. */
vm_status_t vm_receive_down(uint64_t monitor, int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m,
                            vm_reason_t *reason);
/* Waits for the next exit message, which only a process that traps exits
 * gets (from a link whose other end ended, tag 0, or from vm_send_exit,
 * tag 1; m->envelope.sender is who), as vm_receive_down. */
vm_status_t vm_receive_exit(int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m, vm_reason_t *reason);

/* ---- registry and timers ---- */

/* Registers `name` (copied) for `pid`, which need not be this process
 * (Erlang's register/2); one process may hold several names (OTP allows
 * one). The name goes when `pid` ends, and is charged to this process.
 * Errors: VM_E_ALREADY_REGISTERED if a live process holds it;
 * VM_E_NOT_FOUND if `pid` has ended (or is another node's: see
 * vm_register_global); VM_E_INVALID_ARGUMENT for a name over 255 bytes or
 * not UTF-8; VM_E_LIMIT_REACHED past this process's budget. */
vm_status_t vm_register(const char *name, vm_pid_t pid);
/* The process registered as `name` into `*out`, unchanged on failure
 * (Erlang's whereis/1); VM_E_NOT_FOUND if none is. */
vm_status_t vm_lookup(const char *name, vm_pid_t *out);
/* Removes `name`, whoever holds it (Erlang's unregister/1); VM_E_NOT_FOUND
 * if it was not registered. */
vm_status_t vm_unregister(const char *name);
/* Sends a copy of `len` bytes at `data`, tagged `tag`, to `to` after
 * `delay_ms`, from this process (Erlang's erlang:send_after/3; a huge delay
 * never fires); returns the timer's reference, for vm_cancel_timer. Unlike
 * OTP's, a timer goes when its setter ends, and one to a process that has
 * ended is cancelled at once. No status: past this process's budget (the
 * message + 256 bytes, until it fires) the VM has no error to return, and
 * this process ends with reason trap ("timer.send-after: limit-reached:
 * …"). */
uint64_t vm_send_after(vm_pid_t to, uint64_t tag, const void *data, size_t len, uint64_t delay_ms);
/* vm_send_after for a message that carries handles (ABI 1.4): they leave
 * this process now (their entries are zeroed) and reach `to` when the timer
 * fires; if it is cancelled, or `to` ends first, they are closed. `timer`
 * may be NULL. Errors (nothing moves): VM_E_INVALID_HANDLE for a handle not
 * owned (or listed twice); VM_E_INVALID_ARGUMENT for an active read half,
 * or `to` on another node; VM_E_LIMIT_REACHED past this process's budget;
 * VM_E_OUT_OF_BOUNDS for a buffer outside memory. */
vm_status_t vm_send_after_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, vm_handle_t *handles,
                                  size_t nhandles, uint64_t delay_ms, uint64_t *timer);
/* Cancels a timer (Erlang's erlang:cancel_timer/1); true if it had not
 * fired yet, false if it had fired (its message may be queued already),
 * was cancelled, or its target or setter ended: the answer is the status.
 * Any process holding the reference can cancel the timer; cancelling one
 * of vm_send_after_handles closes the handles it carries. */
bool vm_cancel_timer(uint64_t timer);

/* ---- nodes and global names (ABI 1.8; `vm run --cluster`) ---- */

/* A process id's top 16 bits are its node's slot; outside a cluster the VM
 * is node 0, named "local", alone. */
#define VM_NODE_OF(pid) ((uint32_t)((uint64_t)(pid) >> 48))
/* The id that names node `slot` itself: the sender of its monitor's down. */
#define VM_NODE_ID(slot) ((vm_pid_t)(slot) << 48)
/* This process's node (Erlang's node/0), its slot: 0 outside a cluster. It
 * cannot fail. */
uint32_t vm_node_self(void);
/* Writes the slots of the nodes up now, this one first, to `out` (room
 * for `cap`; NULL with 0 only counts); returns how many are up (more than
 * `cap`: cut short), at least 1, this node. No status: 0 only means `out`
 * lies outside memory. */
size_t vm_node_up(uint32_t *out, size_t cap);
/* Writes node `slot`'s name (its --node), NUL-terminated, to `buf` (cut to
 * fit `cap`, with VM_OK: compare `*len`); `*len` (may be NULL) gets its
 * full length. VM_E_NOT_FOUND if the node is not up; VM_E_INVALID_ARGUMENT
 * for a `cap` of 0. */
vm_status_t vm_node_name(uint32_t slot, char *buf, size_t cap, size_t *len);
/* Erlang's monitor_node: when node `slot` goes down (at once if it is not
 * up), a down message tagged with the returned reference arrives from
 * VM_NODE_ID(slot), reason "noconnection" (vm_receive_down waits for it).
 * This process's own node never goes down while it lives. It costs what
 * vm_monitor costs, and as there, no status: past this process's budget
 * it ends with reason trap ("node.monitor-node: limit-reached: …"). */
uint64_t vm_monitor_node(uint32_t slot);
/* Stops a node monitor: after it returns no down for it arrives (as
 * vm_demonitor, which stops one too). An unknown reference does nothing,
 * so there is no status. */
void vm_demonitor_node(uint64_t monitor);
/* vm_spawn on node `slot` (Erlang's spawn(Node, ...)): the module travels
 * there by its hash and runs under that node's limits. No handles: they
 * cannot cross nodes. VM_E_PERMISSION_DENIED if that node does not accept
 * spawns from this one or this module (vm run --accept-spawn-from NODE
 * --accept-module HASH, or '*'); VM_E_NOT_FOUND if it is not up;
 * VM_E_UNREACHABLE if it does not answer within 30 s;
 * VM_E_MODULE_INCOMPATIBLE if it lacks a plugin the module imports;
 * otherwise as vm_spawn (there). The call waits for that node's answer. */
vm_status_t vm_spawn_on(uint32_t slot, vm_process_fn fn, const void *capture, size_t len, bool link, vm_pid_t *out);
/* vm_spawn_module on node `slot`, as vm_spawn_on. */
vm_status_t vm_spawn_module_on(uint32_t slot, vm_module_t module, const char *entry, uint32_t arg, const void *init,
                               size_t len, bool link, vm_pid_t *out);
/* Names across the cluster, as Erlang's global: one holder per name, freed
 * when it ends or its node goes down. `pid` must be of this node
 * (VM_E_INVALID_ARGUMENT otherwise); VM_E_ALREADY_REGISTERED if a live
 * process anywhere holds the name; VM_E_UNREACHABLE if the cluster's store
 * cannot be reached. Outside a cluster they are this VM's, apart from
 * vm_register's. Also as vm_register: VM_E_NOT_FOUND if `pid` has ended,
 * VM_E_INVALID_ARGUMENT for a name over 255 bytes, VM_E_LIMIT_REACHED past
 * this process's budget. Each call may ask the cluster's store over NATS,
 * and waits for it. */
vm_status_t vm_register_global(const char *name, vm_pid_t pid);
/* The process holding `name` across the cluster into `*out`, unchanged on
 * failure (Erlang's global:whereis_name/1). VM_E_NOT_FOUND if no live
 * process holds it; VM_E_UNREACHABLE as above. */
vm_status_t vm_lookup_global(const char *name, vm_pid_t *out);
/* Removes `name`, whoever holds it (Erlang's global:unregister_name/1).
 * VM_E_NOT_FOUND if no live process held it; VM_E_UNREACHABLE as above. */
vm_status_t vm_unregister_global(const char *name);

/* ---- TCP ----
 * Distinct types make misuse a compile error: a read half cannot be passed
 * where writing is expected. Timeouts are in milliseconds; VM_FOREVER (any
 * value < 0) means the socket's own timeout (vm_tcp_set_read_timeout and
 * the like), or no limit if it has none. Failed calls return the VM's
 * status: VM_E_TIMEOUT, VM_E_CONNECTION_RESET, VM_E_PERMISSION_DENIED (the
 * text names the --allow-net rule to grant), VM_E_INVALID_HANDLE for a
 * socket this process does not own, ...; besides those each call names,
 * any call that does I/O may fail with VM_E_IO (the text says what), and
 * any given a buffer outside memory with VM_E_OUT_OF_BOUNDS. Sockets are
 * this process's until closed or moved; one it still holds when it ends is
 * closed. */

typedef struct vm_tcp_listener { vm_handle_t handle; } vm_tcp_listener_t;
typedef struct vm_tcp_stream { vm_handle_t handle; } vm_tcp_stream_t;
typedef struct vm_read_half { vm_handle_t handle; } vm_read_half_t;
typedef struct vm_write_half { vm_handle_t handle; } vm_write_half_t;

/* Take handle number `index` of the message just received as the kind the
 * type says (ABI 1.9): the VM checks the kind where the handle arrives, not
 * at its first use. A handle of another kind fails with
 * VM_E_INVALID_ARGUMENT, the text naming what it is, and stays in the
 * message; one the message lacks fails with VM_E_INVALID_HANDLE (the text
 * says when the receive closed it because the message before still held it
 * untaken). `*out` is set only on success. */
vm_status_t vm_take_tcp_listener(uint32_t index, vm_tcp_listener_t *out);
vm_status_t vm_take_tcp_stream(uint32_t index, vm_tcp_stream_t *out);
vm_status_t vm_take_read_half(uint32_t index, vm_read_half_t *out);
vm_status_t vm_take_write_half(uint32_t index, vm_write_half_t *out);
vm_status_t vm_take_module(uint32_t index, vm_module_t *out);

/* Resolves `host` (a name or IP, optionally with `:PORT`) through the VM
 * under its --allow-net policy (a name no rule names is not looked up:
 * VM_E_PERMISSION_DENIED). Writes the addresses as text, one per line
 * ("IP:PORT"; port 0 without one), NUL-terminated, to `buf`; `*len` (may be
 * NULL) is the text's full length. VM_E_BUFFER_TOO_SMALL if it needs more
 * than `cap` - 1 bytes: call again with `*len` + 1. VM_E_UNREACHABLE if
 * the name does not resolve, VM_E_INVALID_ARGUMENT if `host` is not one. */
vm_status_t vm_resolve(const char *host, char *buf, size_t cap, size_t *len);

/* Listens on `address` ("IP:PORT", or "HOST:PORT" for a name a rule grants;
 * port 0 picks a free port, which vm_tcp_listener_local_address gives;
 * Erlang's gen_tcp:listen/2). `*out`, set on success only, is this
 * process's until closed or moved. Errors: VM_E_PERMISSION_DENIED,
 * VM_E_ADDRESS_IN_USE, VM_E_INVALID_ARGUMENT (not an address),
 * VM_E_UNREACHABLE (a name that does not resolve), VM_E_LIMIT_REACHED
 * (past --max-sockets). */
vm_status_t vm_tcp_bind(const char *address, vm_tcp_listener_t *out);
/* Waits for a connection on `listener` (gen_tcp:accept/2); the stream
 * (TCP_NODELAY on, no timeouts of its own) goes to `*out`, set on success
 * only. Errors: VM_E_TIMEOUT; VM_E_INVALID_HANDLE for a handle not a
 * listener of this process; VM_E_LIMIT_REACHED past --max-sockets (the
 * connection is closed). */
vm_status_t vm_tcp_accept(vm_tcp_listener_t listener, int64_t timeout_ms, vm_tcp_stream_t *out);
/* Connects to `address`, trying each address a name resolves to
 * (gen_tcp:connect/3); `*out` as vm_tcp_accept. Errors:
 * VM_E_PERMISSION_DENIED, VM_E_CONNECTION_REFUSED, VM_E_TIMEOUT,
 * VM_E_UNREACHABLE, VM_E_INVALID_ARGUMENT (not an address),
 * VM_E_LIMIT_REACHED (past --max-sockets). */
vm_status_t vm_tcp_connect(const char *address, int64_t timeout_ms, vm_tcp_stream_t *out);

/* Addresses as text ("IP:PORT"), NUL-terminated; VM_E_BUFFER_TOO_SMALL if
 * `cap` cannot hold it (64 bytes always can). VM_E_INVALID_HANDLE for a
 * handle that is not this process's socket with such an address (an
 * active read half has none); another VM status (VM_E_IO, say) if the
 * system cannot tell, as for the peer of a connection gone. */
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

/* Reads up to `cap` bytes (at most 64 KiB a call) into `buf`, waiting as
 * the TCP section says (gen_tcp:recv/3, passive mode); *n == 0 means
 * end-of-stream (or `cap` 0): the peer closed its side. Then close the
 * socket: a reader process that returns here ends normally, which does not
 * end its linked writer (see vm_link). Errors (*n 0): VM_E_TIMEOUT,
 * VM_E_CONNECTION_RESET, VM_E_INVALID_HANDLE for a handle not readable by
 * this process, VM_E_OUT_OF_BOUNDS for a `buf` outside memory. */
vm_status_t vm_tcp_read(vm_tcp_stream_t stream, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Reads like vm_tcp_read, but the bytes stay in the socket: the next read
 * or peek returns them again (ABI 1.4). Errors as vm_tcp_read. */
vm_status_t vm_tcp_peek(vm_tcp_stream_t stream, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Writes some of `data`, waiting at most `timeout_ms` for room; `*n` says
 * how much (at least 1 byte when `len` > 0 and it returns VM_OK). Errors
 * (*n 0): VM_E_TIMEOUT, VM_E_CONNECTION_RESET (the peer is gone),
 * VM_E_INVALID_HANDLE for a handle not writable by this process. */
vm_status_t vm_tcp_write(vm_tcp_stream_t stream, const void *data, size_t len, int64_t timeout_ms, size_t *n);
/* Writes what the send buffer takes now, never waiting: VM_E_WOULD_BLOCK
 * (and *n == 0) when it is full; other errors as vm_tcp_write. */
vm_status_t vm_tcp_try_write(vm_tcp_stream_t stream, const void *data, size_t len, size_t *n);
/* Writes all of `data`, waiting for room as long as the socket's own write
 * timeout allows (gen_tcp:send/2). Errors as vm_tcp_write, after which an
 * unknown part may have been written. */
vm_status_t vm_tcp_write_all(vm_tcp_stream_t stream, const void *data, size_t len);
/* Shuts down reading, writing or both (VM_SHUTDOWN_HOW_*; gen_tcp:shutdown/2):
 * after writing's, the peer reads end-of-stream. The handle stays this
 * process's: close it still. A direction the peer closed already is no
 * error. Errors: VM_E_INVALID_HANDLE, VM_E_INVALID_ARGUMENT (an unknown
 * `how`). */
vm_status_t vm_tcp_shutdown(vm_tcp_stream_t stream, vm_shutdown_how_t how);

/* The socket's own timeouts (ABI 1.4): a read, peek or write given
 * VM_FOREVER waits at most this long. They belong to the socket, so they
 * move with it to other processes; split gives each half its direction's,
 * reunite keeps both. `ms` < 0 (VM_FOREVER) clears it; 0 is refused with
 * VM_E_INVALID_ARGUMENT (to not wait, try-write or read with a timeout).
 * The getters give VM_FOREVER when none is set. VM_E_INVALID_HANDLE for a
 * handle that is not a stream of this process. */
vm_status_t vm_tcp_set_read_timeout(vm_tcp_stream_t stream, int64_t ms);
vm_status_t vm_tcp_set_write_timeout(vm_tcp_stream_t stream, int64_t ms);
vm_status_t vm_tcp_read_timeout(vm_tcp_stream_t stream, int64_t *ms);
vm_status_t vm_tcp_write_timeout(vm_tcp_stream_t stream, int64_t *ms);
/* TCP_NODELAY (ABI 1.4): on (small writes go at once) for every stream the
 * VM makes; off lets the kernel coalesce them. It moves with the socket.
 * VM_E_INVALID_HANDLE for a handle that is not a stream of this process. */
vm_status_t vm_tcp_set_nodelay(vm_tcp_stream_t stream, bool enabled);
vm_status_t vm_tcp_nodelay(vm_tcp_stream_t stream, bool *enabled);

/* Splits the stream into a read half and a write half (each can move to
 * another process) and zeroes `*stream`, which is consumed. With a reader
 * and a writer process linked, mind how the reader ends (vm_link): the
 * socket closes only when both halves are gone. Errors (`*stream` kept,
 * whole): VM_E_INVALID_HANDLE for a handle not a stream of this process;
 * VM_E_LIMIT_REACHED past --max-sockets. */
vm_status_t vm_tcp_split(vm_tcp_stream_t *stream, vm_read_half_t *read, vm_write_half_t *write);
/* Joins two halves of one stream back into it, zeroing both. Halves of
 * different streams fail with VM_E_NOT_PAIRED, and both stay as they were;
 * VM_E_INVALID_HANDLE if they are not a read half (passive) and a write
 * half of this process. `*out` is set on success only. */
vm_status_t vm_tcp_reunite(vm_read_half_t *read, vm_write_half_t *write, vm_tcp_stream_t *out);

/* As vm_tcp_read and vm_tcp_peek, on the read half; VM_E_INVALID_ARGUMENT
 * while it is active (vm_read_half_set_active). */
vm_status_t vm_read_half_read(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
vm_status_t vm_read_half_peek(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
/* Shuts down reading (the peer's writes then fail or are discarded); as
 * vm_tcp_shutdown, on the read half. */
vm_status_t vm_read_half_shutdown(vm_read_half_t half);
/* Erlang's {active, N} (ABI 1.5): the half's next `count` reads arrive as
 * data messages tagged `tag` instead of through vm_read_half_read (decode
 * each with vm_decode_socket_event), so the process can wait for them
 * beside its other messages, and hibernate meanwhile. After them, the
 * peer's end or an error, the half is passive again. `count` 0 makes it
 * passive now (no read is lost). Unlike OTP, no tcp_passive message says
 * the count ran out: count the messages, or use 1 and set it again after
 * each (a larger count has no flow control but this process's mailbox
 * bound, past which it ends). While active, reads fail with
 * VM_E_INVALID_ARGUMENT, so does moving the half to another process, and
 * its other calls (addresses, timeouts, nodelay, shutdown, reunite) fail
 * with VM_E_INVALID_HANDLE; closing it works. Errors: VM_E_INVALID_HANDLE
 * for a handle not a read half of this process. */
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
 * VM_E_DECODE if it is not one (or was truncated). `out->data` points into
 * `data` (valid while it is). */
vm_status_t vm_decode_socket_event(const void *data, size_t len, vm_socket_event_t *out);
/* As vm_tcp_set_read_timeout and vm_tcp_read_timeout, on the read half. */
vm_status_t vm_read_half_set_timeout(vm_read_half_t half, int64_t ms);
vm_status_t vm_read_half_timeout(vm_read_half_t half, int64_t *ms);

/* As vm_tcp_write, vm_tcp_try_write and vm_tcp_write_all, on the write
 * half. */
vm_status_t vm_write_half_write(vm_write_half_t half, const void *data, size_t len, int64_t timeout_ms, size_t *n);
vm_status_t vm_write_half_try_write(vm_write_half_t half, const void *data, size_t len, size_t *n);
vm_status_t vm_write_half_write_all(vm_write_half_t half, const void *data, size_t len);
/* Shuts down writing: the peer reads end-of-stream; as vm_tcp_shutdown, on
 * the write half. */
vm_status_t vm_write_half_shutdown(vm_write_half_t half);
/* As vm_tcp_set_write_timeout, vm_tcp_write_timeout, vm_tcp_set_nodelay and
 * vm_tcp_nodelay, on the write half (TCP_NODELAY is the whole socket's). */
vm_status_t vm_write_half_set_timeout(vm_write_half_t half, int64_t ms);
vm_status_t vm_write_half_timeout(vm_write_half_t half, int64_t *ms);
vm_status_t vm_write_half_set_nodelay(vm_write_half_t half, bool enabled);
vm_status_t vm_write_half_nodelay(vm_write_half_t half, bool *enabled);

/* Close the resource and zero `*x`, so a later use fails with
 * VM_E_INVALID_HANDLE. Closing a stream closes the connection; closing a
 * write half shuts down writing, and the socket closes when both halves are
 * gone (a half held by another process keeps it open: see vm_link). A
 * process that ends closes every handle it still holds.
 * VM_E_INVALID_HANDLE if it was not owned (it is zeroed either way). */
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

/* vm_writer_init starts `w` over the caller's `buf` (`cap` bytes, which
 * `w->data` points to). Each vm_put_* appends one value's encoding (the
 * bytes of vm_put_bytes and vm_put_str are copied). None returns a status:
 * once a value does not fit, nothing more is written, `overflow` is set
 * and `needed` counts on; vm_writer_status (and vm_send_writer, vm_request,
 * vm_reply_writer) report it as VM_E_BUFFER_TOO_SMALL. */
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
 * overflowed, when `w->needed` says how large a buffer to encode into;
 * otherwise as vm_send. */
vm_status_t vm_send_writer(vm_pid_t to, uint64_t tag, const vm_writer_t *w);
/* The most bytes vm_send_encoded encodes on the stack. */
#define VM_SEND_STACK 256
/* Encodes a message with `put` (a generated NAME_put taking `value`) and
 * sends it, in a buffer sized for it: on the stack up to VM_SEND_STACK
 * bytes, else from malloc. Without libc a larger message fails with
 * VM_E_BUFFER_TOO_SMALL (use NAME_send_in with a buffer of yours). The
 * generated NAME_send calls it. */
vm_status_t vm_send_encoded(vm_pid_t to, uint64_t tag, void (*put)(vm_writer_t *w, const void *value),
                            const void *value);

typedef struct vm_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool error;
} vm_reader_t;

/* A reader over `len` bytes at `data`, which stay the caller's: what
 * vm_get_bytes and vm_get_str give points into them. It cannot fail. */
void vm_reader_init(vm_reader_t *r, const void *data, size_t len);
/* A reader over a received message's bytes (in `m`'s buffer, which must
 * outlive it); one over a truncated message is in error from the start, so
 * its prefix is never decoded as if whole. It cannot fail. */
void vm_reader_init_message(vm_reader_t *r, const vm_message_t *m);
/* Each vm_get_* decodes the next value. None returns a status: on input
 * that is missing or malformed (a varint too large for the type, a bool
 * byte other than 0 or 1) it returns 0 (false) and sets the sticky `error`
 * flag, and every later get returns 0 too, so decode everything, then
 * check once with vm_reader_finish (or vm_reader_status). */
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
/* Bytes without copying: *data points into the reader's buffer (NULL, and
 * 0 returned, on error). */
size_t vm_get_bytes(vm_reader_t *r, const uint8_t **data);
/* Whether `n` bytes at `bytes` are well-formed UTF-8, as a string in a
 * message must be (vm_get_str refuses others; vm_put_bytes and generated
 * string fields send what they are given, so check text from outside,
 * a socket's, say, before it goes into a message). */
bool vm_utf8_valid(const void *bytes, size_t n);
/* A UTF-8 string without copying (not NUL-terminated; *s as vm_get_bytes'
 * *data); bytes that are not UTF-8 are an error. */
size_t vm_get_str(vm_reader_t *r, const char **s);
/* A sequence's element count: at most 2^32 - 1 and at most the bytes left
 * (each element takes at least one), else a decode error and 0. */
size_t vm_get_len(vm_reader_t *r);
/* An option's tag (true: its value follows) and an enum's variant index. */
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
 * (vm_fresh_tag), for the body to follow. One writer per request. It
 * cannot fail: a `cap` too small shows as vm_request's
 * VM_E_BUFFER_TOO_SMALL. */
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
 * VM_E_INVALID_ARGUMENT if `w` was not begun with vm_request_begin; and
 * those of vm_send and vm_receive. The monitor costs what vm_monitor's
 * does (past this process's budget it ends, with reason trap). */
vm_status_t vm_request(vm_pid_t server, const vm_writer_t *w, int64_t timeout_ms, void *buf, size_t cap,
                       vm_message_t *reply, vm_reason_t *down);
/* Decodes a request's header from `r`, a reader at the start of a received
 * data message; the body follows in `r`. VM_E_DECODE if it does not decode. */
vm_status_t vm_get_request(vm_reader_t *r, vm_request_t *req);
/* Answers a request with the reply's bytes (or what `w` encoded; an
 * overflowed writer sends nothing: VM_E_BUFFER_TOO_SMALL); otherwise as
 * vm_send, so a requester that has ended, or gave up, is no error. */
vm_status_t vm_reply(const vm_request_t *req, const void *data, size_t len);
vm_status_t vm_reply_writer(const vm_request_t *req, const vm_writer_t *w);

#ifdef __cplusplus
}
#endif

#endif /* VM_H */
