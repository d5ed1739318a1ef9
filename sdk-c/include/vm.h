/* vm.h: write processes for the vm:host actor VM in C.
 *
 * A process is a WebAssembly instance with its own memory and mailbox.
 * Processes share nothing: they spawn each other, exchange messages (bytes
 * with a tag, encoded with the postcard codec below so they interoperate with
 * Rust and AssemblyScript processes), link and monitor each other with
 * Erlang's semantics, and own TCP sockets that can move between them.
 *
 * Every call that can fail returns a vm_status_t: VM_OK (0), or a status
 * whose text vm_strerror() gives; vm_last_error() copies the VM's
 * explanation of the last failed call.
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
/* The SDK's own: a message did not decode, or a buffer was too small. */
#define VM_E_DECODE 1000
#define VM_E_BUFFER_TOO_SMALL 1001

/* The status's name ("timeout", "decode", ...). */
const char *vm_strerror(vm_status_t status);
/* Copies the VM's text for the last failed call (NUL-terminated, truncated
 * to cap); returns its full length. */
size_t vm_last_error(char *buf, size_t cap);

/* ---- processes ---- */

typedef vm_process_id_t vm_pid_t;
#define VM_FOREVER (-1)

vm_pid_t vm_self(void);

/* A function a spawned process runs, with the capture it was given. */
typedef void (*vm_process_fn)(const uint8_t *capture, size_t len);

/* Starts `fn` in a new process of this module with a copy of `capture`
 * (at most VM_MAX_CAPTURE bytes), moving `handles` (sockets, say) to it:
 * the new process takes them with vm_take_handle(0..) before its first
 * receive. `link` links it to this process. */
#define VM_MAX_CAPTURE 4096
vm_status_t vm_spawn(vm_process_fn fn, const void *capture, size_t len, const vm_handle_t *handles, size_t nhandles,
                     bool link, vm_pid_t *out);
/* Starts export `entry` (taking () or (i32) = `arg`) of a loaded module; its
 * first message (kind init) carries `init`. */
vm_status_t vm_spawn_module(vm_handle_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                            bool link, vm_pid_t *out);
vm_status_t vm_load_module(const void *bytes, size_t len, vm_handle_t *out);
vm_status_t vm_link(vm_pid_t target);
void vm_unlink(vm_pid_t target);
/* Returns the monitor reference that tags the down message. */
uint64_t vm_monitor(vm_pid_t target);
void vm_demonitor(uint64_t monitor);
void vm_kill(vm_pid_t target);
bool vm_trap_exits(bool enabled);
/* Ends this process; an empty or NULL reason is a normal exit. */
/* Ends this process (flushing stdio in hosted builds); NULL or "" is a
 * normal exit, any other text the exit reason. */
VM_NORETURN void vm_exit(const char *reason);
/* Sleeps at least `ms` milliseconds (a huge value sleeps forever). */
void vm_sleep_ms(uint64_t ms);
/* Sends `target` an exit signal (Erlang's exit/2, ABI 1.3): a process that
 * traps exits receives it as an exit message from this one; otherwise a
 * non-empty reason ends it, and NULL or "" (normal) is ignored. Unlike
 * vm_kill, it can be trapped. */
void vm_send_exit(vm_pid_t target, const char *reason);
vm_status_t vm_drop(vm_handle_t handle);

/* ---- messages ---- */

vm_status_t vm_send(vm_pid_t to, uint64_t tag, const void *data, size_t len);
/* Sends, moving `handles` (sockets, modules) to the receiver. */
vm_status_t vm_send_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, const vm_handle_t *handles,
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

/* ---- registry and timers ---- */

vm_status_t vm_register(const char *name, vm_pid_t pid);
vm_status_t vm_lookup(const char *name, vm_pid_t *out);
vm_status_t vm_unregister(const char *name);
uint64_t vm_send_after(vm_pid_t to, uint64_t tag, const void *data, size_t len, uint64_t delay_ms);
bool vm_cancel_timer(uint64_t timer);

/* ---- TCP ----
 * Distinct types make misuse a compile error: a read half cannot be passed
 * where writing is expected. */

typedef struct vm_tcp_listener { vm_handle_t handle; } vm_tcp_listener_t;
typedef struct vm_tcp_stream { vm_handle_t handle; } vm_tcp_stream_t;
typedef struct vm_read_half { vm_handle_t handle; } vm_read_half_t;
typedef struct vm_write_half { vm_handle_t handle; } vm_write_half_t;

vm_status_t vm_tcp_bind(const char *address, vm_tcp_listener_t *out);
vm_status_t vm_tcp_accept(vm_tcp_listener_t listener, int64_t timeout_ms, vm_tcp_stream_t *out);
vm_status_t vm_tcp_connect(const char *address, int64_t timeout_ms, vm_tcp_stream_t *out);
/* The address as text, NUL-terminated. */
vm_status_t vm_tcp_local_address(vm_handle_t socket, char *buf, size_t cap);
vm_status_t vm_tcp_peer_address(vm_handle_t socket, char *buf, size_t cap);
/* Reads up to `cap` bytes; *n == 0 means end-of-stream. */
vm_status_t vm_tcp_read(vm_tcp_stream_t stream, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
vm_status_t vm_tcp_write_all(vm_tcp_stream_t stream, const void *data, size_t len);
vm_status_t vm_tcp_shutdown(vm_tcp_stream_t stream, vm_shutdown_how_t how);
/* Consumes the stream. */
vm_status_t vm_tcp_split(vm_tcp_stream_t stream, vm_read_half_t *read, vm_write_half_t *write);
/* Consumes both halves; VM_E_NOT_PAIRED (keeping both) if they differ. */
vm_status_t vm_tcp_reunite(vm_read_half_t read, vm_write_half_t write, vm_tcp_stream_t *out);
vm_status_t vm_read_half_read(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n);
vm_status_t vm_write_half_write_all(vm_write_half_t half, const void *data, size_t len);

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

#ifdef __cplusplus
}
#endif

#endif /* VM_H */
