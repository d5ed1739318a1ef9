/* The ergonomic C API over the generated raw imports (vm_abi.h). No libc
 * needed: this file works freestanding and with wasi-libc. */
#include "vm.h"

#include <stdarg.h>

#include "sdk_error.h"

#if __STDC_HOSTED__
#include <stdio.h>
#include <stdlib.h>
#endif

#if !__STDC_HOSTED__
/* Freestanding builds have no libc, but the compiler may still emit calls to
 * these for struct copies and zeroing. Weak, so an app's own win. */
__attribute__((weak)) void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
__attribute__((weak)) void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}
#endif

/* The ABI version this SDK was built against, for `vm inspect`. */
__asm__(VM_ABI_MARKER_ASM);

static size_t text_len(const char *s) {
    size_t n = 0;
    if (s) while (s[n]) n++;
    return n;
}

static uint32_t addr(const void *p) { return (uint32_t)(uintptr_t)p; }

/* Milliseconds as nanoseconds, saturating: a huge wait waits forever rather
 * than wrapping to a short one. */
static uint64_t nanos_u(uint64_t ms) { return ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u; }
static uint64_t nanos(int64_t ms) { return ms < 0 ? 0 : nanos_u((uint64_t)ms); }

/* ---- errors ---- */

/* The text of the SDK's last failure, and whether the last failure was the
 * SDK's (rather than the VM's, whose text the VM keeps). */
static char sdk_error[192];
static size_t sdk_error_len;
static bool sdk_error_last;

static void sdk_text(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (sdk_error_len < sizeof sdk_error - 1) sdk_error[sdk_error_len] = s[i];
        sdk_error_len++;
    }
}

vm_status_t vm_sdk_fail_(vm_status_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sdk_error_len = 0;
    const char *name = vm_strerror(status);
    sdk_text(name, text_len(name));
    sdk_text(": ", 2);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || !f[1]) {
            sdk_text(f, 1);
            continue;
        }
        f++;
        if (*f == 's') {
            const char *arg = va_arg(ap, const char *);
            sdk_text(arg, text_len(arg));
        } else if (*f == 'u') {
            uint64_t v = va_arg(ap, uint64_t);
            char digits[20];
            size_t n = 0;
            do digits[sizeof digits - ++n] = (char)('0' + v % 10);
            while ((v /= 10) != 0);
            sdk_text(digits + sizeof digits - n, n);
        } else {
            sdk_text(f, 1);
        }
    }
    va_end(ap);
    sdk_error[sdk_error_len < sizeof sdk_error ? sdk_error_len : sizeof sdk_error - 1] = 0;
    sdk_error_last = true;
    return status;
}

/* A failure the VM reported: its text is the VM's again. */
static vm_status_t vm_failed(uint8_t code) {
    sdk_error_last = false;
    return VM_STATUS(code);
}

static vm_status_t status_of(uint8_t is_err, uint8_t code) { return is_err ? vm_failed(code) : VM_OK; }

const char *vm_strerror(vm_status_t status) { return vm_status_name(status); }

vm_status_t vm_fail(vm_status_t status, const char *text) { return vm_sdk_fail_(status, "%s", text ? text : ""); }

size_t vm_last_error(char *buf, size_t cap) {
    if (sdk_error_last) {
        size_t full = sdk_error_len < sizeof sdk_error ? sdk_error_len : sizeof sdk_error - 1;
        if (cap == 0) return full;
        size_t n = full < cap - 1 ? full : cap - 1;
        for (size_t i = 0; i < n; i++) buf[i] = sdk_error[i];
        buf[n] = 0;
        return full;
    }
    if (cap == 0) return vm_raw_version_last_error(0, 0);
    uint32_t full = vm_raw_version_last_error(addr(buf), (uint32_t)(cap - 1));
    buf[full < cap - 1 ? full : cap - 1] = 0;
    return full;
}

vm_semver_t vm_abi_version(void) {
    vm_semver_t v;
    vm_raw_version_abi_version(&v);
    return v;
}

/* Zeroes handles that moved away, so they cannot name anything again. */
static void zero_handles(vm_handle_t *handles, size_t n) {
    for (size_t i = 0; handles && i < n; i++) handles[i] = 0;
}

/* ---- processes ---- */

vm_pid_t vm_self(void) { return vm_raw_process_self_id(); }

#define VM_C_ENTRY "vm_c_entry_1_1"

#if __STDC_HOSTED__
/* One output rule for every process, the root included: stdout is
 * line-buffered, so each line reaches the VM when it is printed (not when
 * a buffer fills, or never if the process is killed), and the VM passes
 * whole lines on, never mixing two processes' within a line. Constructors
 * run before main and before every export of a command module. */
__attribute__((constructor)) static void vm_line_buffer_stdout(void) { setvbuf(stdout, 0, _IOLBF, 0); }
#endif

/* Every process started with vm_spawn begins here, with the table index of
 * its function; its capture is the init message. */
__attribute__((export_name(VM_C_ENTRY))) void vm_c_entry(uint32_t fn_index) {
#if __STDC_HOSTED__
    vm_line_buffer_stdout(); /* as the root's: whether or not ctors ran */
#endif
    uint8_t capture[VM_MAX_CAPTURE];
    vm_message_t m;
    vm_status_t s = vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, capture, sizeof capture, &m);
    if (s != VM_OK || m.truncated) vm_panic("vm_c_entry: the capture does not fit VM_MAX_CAPTURE");
    vm_process_fn fn = (vm_process_fn)(uintptr_t)fn_index;
    fn(m.data, m.len);
}

/* NULL with a length is a bug in the caller, not address 0 of memory
 * (which WebAssembly would read without a trap): refused with the text. */
static vm_status_t null_buffer(const char *call, const void *p, size_t len) {
    if (p || len == 0) return VM_OK;
    return vm_sdk_fail_(VM_E_INVALID_ARGUMENT, "%s: a NULL buffer with a length of %u bytes", call, (uint64_t)len);
}

static vm_status_t spawn(vm_handle_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                         vm_handle_t *handles, size_t nhandles, bool link, vm_pid_t *out) {
    vm_status_t bad = null_buffer("spawn", init, len);
    if (bad != VM_OK) return bad;
    vm_result_u64_t r;
    vm_raw_process_spawn(module, entry, text_len(entry), arg, init, len, handles, nhandles,
                         link ? VM_SPAWN_OPTIONS_LINK_BIT : 0, &r);
    if (r.is_err) return vm_failed(r.val.err);
    zero_handles(handles, nhandles);
    if (out) *out = r.val.ok;
    return VM_OK;
}

vm_status_t vm_spawn(vm_process_fn fn, const void *capture, size_t len, vm_handle_t *handles, size_t nhandles,
                     bool link, vm_pid_t *out) {
    if (len > VM_MAX_CAPTURE) {
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_spawn: a capture of %u bytes is over VM_MAX_CAPTURE (%u)",
                            (uint64_t)len, (uint64_t)VM_MAX_CAPTURE);
    }
    return spawn(0, VM_C_ENTRY, (uint32_t)(uintptr_t)fn, capture, len, handles, nhandles, link, out);
}

VM_NORETURN void vm_hibernate(vm_process_fn fn, const void *state, size_t len, vm_handle_t *handles,
                              size_t nhandles) {
    if (len > VM_MAX_CAPTURE) vm_panic("vm_hibernate: a state over VM_MAX_CAPTURE bytes");
    if (!state && len > 0) vm_panic("vm_hibernate: a NULL state with a length");
#if __STDC_HOSTED__
    /* The instance ends here: what printf buffered would be lost. */
    fflush(stdout);
    fflush(stderr);
#endif
    vm_raw_process_hibernate(VM_C_ENTRY, text_len(VM_C_ENTRY), (uint32_t)(uintptr_t)fn, state, len, handles,
                             nhandles);
    __builtin_unreachable();
}

vm_status_t vm_spawn_module(vm_module_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                            bool link, vm_pid_t *out) {
    return spawn(module.handle, entry, arg, init, len, 0, 0, link, out);
}

vm_status_t vm_load_module(const void *bytes, size_t len, vm_module_t *out) {
    vm_status_t bad = null_buffer("vm_load_module", bytes, len);
    if (bad != VM_OK) return bad;
    vm_result_u32_t r;
    vm_raw_process_load_module(bytes, len, &r);
    if (!r.is_err) out->handle = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

/* Drops `*handle` and zeroes it, whether or not the drop succeeded. */
static vm_status_t close_handle(vm_handle_t *handle) {
    vm_status_t s = vm_drop(*handle);
    *handle = 0;
    return s;
}

vm_status_t vm_module_close(vm_module_t *module) { return close_handle(&module->handle); }

vm_status_t vm_link(vm_pid_t target) {
    vm_result_void_t r;
    vm_raw_process_link(target, &r);
    return status_of(r.is_err, r.val.err);
}

void vm_unlink(vm_pid_t target) { vm_raw_process_unlink(target); }
uint64_t vm_monitor(vm_pid_t target) { return vm_raw_process_monitor(target); }
void vm_demonitor(uint64_t monitor) { vm_raw_process_demonitor(monitor); }
void vm_kill(vm_pid_t target) { vm_raw_process_kill(target); }
bool vm_trap_exits(bool enabled) { return vm_raw_process_trap_exits(enabled); }

VM_NORETURN void vm_panic(const char *message) {
    const char *text = message ? message : "panic";
#if __STDC_HOSTED__
    fflush(stdout);
    fprintf(stderr, "%s\n", text);
    fflush(stderr);
#endif
    vm_raw_process_panic(text, text_len(text));
    __builtin_unreachable();
}

#if __STDC_HOSTED__
/* C's assert and abort end the process through vm_panic, so links,
 * monitors and supervisors see why (wasi-libc's own end it with a bare
 * "unreachable instruction executed" trap). This file is linked before
 * libc, so these replace libc's. An abort during a panic (a heap too broken
 * to print) traps at once. */
static bool vm_aborting;

_Noreturn void __assert_fail(const char *expr, const char *file, int line, const char *func) {
    if (vm_aborting) __builtin_trap();
    vm_aborting = true;
    char text[1024];
    snprintf(text, sizeof text, "assertion failed: %s at %s:%d in %s", expr, file, line, func);
    vm_panic(text);
}

_Noreturn void abort(void) {
    if (vm_aborting) __builtin_trap();
    vm_aborting = true;
    vm_panic("abort() was called");
}
#endif

VM_NORETURN void vm_exit(const char *reason) {
#if __STDC_HOSTED__
    /* The process ends in this call: what printf buffered would be lost. */
    fflush(stdout);
    fflush(stderr);
#endif
    vm_raw_process_exit(reason ? reason : "", text_len(reason));
    __builtin_unreachable();
}

void vm_sleep_ms(uint64_t ms) { vm_raw_process_sleep(nanos_u(ms)); }

void vm_send_exit(vm_pid_t target, const char *reason) {
    vm_raw_process_send_exit(target, reason ? reason : "", text_len(reason));
}

vm_status_t vm_drop(vm_handle_t handle) {
    vm_result_void_t r;
    vm_raw_handle_drop(handle, &r);
    return status_of(r.is_err, r.val.err);
}

/* ---- messages ---- */

vm_status_t vm_send(vm_pid_t to, uint64_t tag, const void *data, size_t len) {
    return vm_send_handles(to, tag, data, len, 0, 0);
}

vm_status_t vm_send_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, vm_handle_t *handles,
                            size_t nhandles) {
    vm_status_t bad = null_buffer("vm_send", data, len);
    if (bad != VM_OK) return bad;
    vm_result_void_t r;
    vm_raw_mailbox_send(to, tag, data, len, handles, nhandles, &r);
    if (r.is_err) return vm_failed(r.val.err);
    zero_handles(handles, nhandles);
    return VM_OK;
}

vm_status_t vm_receive(const uint64_t *tags, size_t ntags, vm_message_kinds_t kinds, int64_t timeout_ms, void *buf,
                       size_t cap, vm_message_t *out) {
    vm_status_t bad = null_buffer("vm_receive", buf, cap);
    if (bad != VM_OK) return bad;
    vm_result_envelope_t r;
    /* One call: the VM copies the first `cap` bytes along with the envelope. */
    vm_raw_mailbox_receive_into(tags, ntags, kinds.bits, timeout_ms >= 0, timeout_ms >= 0 ? nanos(timeout_ms) : 0,
                                addr(buf), (uint32_t)cap, &r);
    if (r.is_err) return vm_failed(r.val.err);
    out->envelope = r.val.ok;
    out->data = buf;
    /* Taken either way: a message larger than the buffer is reported, not
     * turned into a failed receive that would end the caller's loop. */
    out->truncated = r.val.ok.size > cap;
    out->len = out->truncated ? cap : r.val.ok.size;
    return VM_OK;
}

vm_status_t vm_receive_rest(vm_message_t *m, void *buf, size_t cap) {
    size_t size = m->envelope.size;
    if (cap < size) {
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_receive_rest: the message has %u bytes, the buffer holds %u",
                            (uint64_t)size, (uint64_t)cap);
    }
    uint8_t *to = buf;
    /* The part already received first (memmove's semantics, without libc). */
    if (to < m->data) {
        for (size_t i = 0; i < m->len; i++) to[i] = m->data[i];
    } else if (to > m->data) {
        for (size_t i = m->len; i > 0; i--) to[i - 1] = m->data[i - 1];
    }
    size_t have = m->len;
    while (have < size) {
        size_t n;
        vm_status_t s = vm_read(to + have, size - have, &n);
        if (s != VM_OK) return s;
        if (n == 0) return vm_sdk_fail_(VM_E_TRUNCATED, "vm_receive_rest: the message ended before its size");
        have += n;
    }
    m->data = to;
    m->len = size;
    m->truncated = false;
    return VM_OK;
}

vm_status_t vm_read(void *buf, size_t cap, size_t *n) {
    *n = 0;
    vm_status_t bad = null_buffer("vm_read", buf, cap);
    if (bad != VM_OK) return bad;
    vm_result_u32_t r;
    vm_raw_mailbox_read(addr(buf), (uint32_t)cap, &r);
    *n = r.is_err ? 0 : r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_send_writer(vm_pid_t to, uint64_t tag, const vm_writer_t *w) {
    vm_status_t s = vm_writer_status(w);
    return s != VM_OK ? s : vm_send(to, tag, w->data, w->len);
}

vm_status_t vm_send_encoded(vm_pid_t to, uint64_t tag, void (*put)(vm_writer_t *w, const void *value),
                            const void *value) {
    uint8_t small[VM_SEND_STACK];
    vm_writer_t w;
    vm_writer_init(&w, small, sizeof small);
    put(&w, value);
    if (!w.overflow) return vm_send(to, tag, small, w.len);
#if __STDC_HOSTED__
    size_t need = w.needed;
    uint8_t *big = malloc(need);
    if (!big)
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_send_encoded: no memory for a message of %u bytes",
                            (uint64_t)need);
    vm_writer_init(&w, big, need);
    put(&w, value);
    vm_status_t s = vm_send_writer(to, tag, &w);
    free(big);
    return s;
#else
    return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL,
                        "vm_send_encoded: a message of %u bytes, more than VM_SEND_STACK, in a build without "
                        "malloc: send it with NAME_send_in and a buffer of your own",
                        (uint64_t)w.needed);
#endif
}

vm_status_t vm_take_handle(uint32_t index, vm_handle_t *out) {
    vm_result_u32_t r;
    vm_raw_mailbox_take_handle(index, &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

static vm_status_t take_as(uint32_t index, vm_handle_kind_t kind, vm_handle_t *out) {
    vm_result_u32_t r;
    vm_raw_mailbox_take_handle_as(index, kind, &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}
vm_status_t vm_take_tcp_listener(uint32_t index, vm_tcp_listener_t *out) {
    return take_as(index, VM_HANDLE_KIND_TCP_LISTENER, &out->handle);
}
vm_status_t vm_take_tcp_stream(uint32_t index, vm_tcp_stream_t *out) {
    return take_as(index, VM_HANDLE_KIND_TCP_STREAM, &out->handle);
}
vm_status_t vm_take_read_half(uint32_t index, vm_read_half_t *out) {
    return take_as(index, VM_HANDLE_KIND_READ_HALF, &out->handle);
}
vm_status_t vm_take_write_half(uint32_t index, vm_write_half_t *out) {
    return take_as(index, VM_HANDLE_KIND_WRITE_HALF, &out->handle);
}
vm_status_t vm_take_module(uint32_t index, vm_module_t *out) {
    return take_as(index, VM_HANDLE_KIND_MODULE, &out->handle);
}

uint64_t vm_fresh_tag(void) { return vm_raw_mailbox_fresh_tag(); }

/* ---- exit reasons ---- */

vm_status_t vm_decode_exit_reason(const vm_message_t *m, vm_reason_t *out) {
    uint8_t kind = m->envelope.kind;
    if (kind != VM_MESSAGE_KIND_DOWN && kind != VM_MESSAGE_KIND_EXIT) {
        return vm_sdk_fail_(VM_E_DECODE, "vm_decode_exit_reason: a message of kind %u is not a down or exit message",
                            (uint64_t)kind);
    }
    if (m->len == 0) return vm_sdk_fail_(VM_E_DECODE, "vm_decode_exit_reason: the message is empty");
    out->kind = m->data[0];
    out->text.ptr = (const char *)m->data + 1;
    out->text.len = m->len - 1;
    return VM_OK;
}

const char *vm_exit_reason_name(vm_exit_reason_t kind) {
    static const char *const names[] = {"normal", "exit", "trap", "killed", "noproc", "noconnection"};
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

static vm_status_t receive_reason(const uint64_t *tag, vm_message_kinds_t kind, int64_t timeout_ms, void *buf,
                                  size_t cap, vm_message_t *m, vm_reason_t *reason) {
    vm_status_t s = vm_receive(tag, tag ? 1 : 0, kind, timeout_ms, buf, cap, m);
    return s != VM_OK ? s : vm_decode_exit_reason(m, reason);
}

vm_status_t vm_receive_down(uint64_t monitor, int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m,
                            vm_reason_t *reason) {
    return receive_reason(&monitor, VM_MESSAGE_KINDS_DOWN, timeout_ms, buf, cap, m, reason);
}

vm_status_t vm_receive_exit(int64_t timeout_ms, void *buf, size_t cap, vm_message_t *m, vm_reason_t *reason) {
    return receive_reason(0, VM_MESSAGE_KINDS_EXIT, timeout_ms, buf, cap, m, reason);
}

/* ---- request/reply ---- */

void vm_request_begin(vm_writer_t *w, void *buf, size_t cap) {
    vm_writer_init(w, buf, cap);
    vm_put_u64(w, vm_self());
    vm_put_u64(w, vm_fresh_tag());
}

vm_status_t vm_get_request(vm_reader_t *r, vm_request_t *req) {
    req->from = vm_get_u64(r);
    req->tag = vm_get_u64(r);
    return vm_reader_status(r);
}

vm_status_t vm_request(vm_pid_t server, const vm_writer_t *w, int64_t timeout_ms, void *buf, size_t cap,
                       vm_message_t *reply, vm_reason_t *down) {
    vm_status_t s = vm_writer_status(w);
    if (s != VM_OK) return s;
    /* The tag vm_request_begin wrote, read back. */
    vm_reader_t r;
    vm_request_t req;
    vm_reader_init(&r, w->data, w->len);
    if (vm_get_request(&r, &req) != VM_OK || req.from != vm_self()) {
        return vm_sdk_fail_(VM_E_INVALID_ARGUMENT, "vm_request: the writer was not begun with vm_request_begin");
    }
    uint64_t monitor = vm_monitor(server);
    s = vm_send(server, 0, w->data, w->len);
    if (s == VM_OK) {
        /* Monitor references and tags come from one sequence in the VM, so
         * the reply's tag and the down's cannot be confused. */
        uint64_t tags[2] = {req.tag, monitor};
        s = vm_receive(tags, 2, VM_MESSAGE_KINDS(DATA, DOWN), timeout_ms, buf, cap, reply);
    }
    if (s == VM_OK && reply->envelope.kind == VM_MESSAGE_KIND_DOWN) {
        /* The monitor fired, so it is gone already. */
        vm_reason_t reason;
        if (vm_decode_exit_reason(reply, &reason) != VM_OK) return VM_E_DECODE;
        if (down) *down = reason;
        return vm_sdk_fail_(VM_E_DOWN, "vm_request: process %u ended (%s) before it replied", (uint64_t)server,
                            vm_exit_reason_name(reason.kind));
    }
    /* Also removes a down that arrived after the reply or the timeout. */
    vm_demonitor(monitor);
    if (s == VM_E_TIMEOUT) {
        /* A reply that comes after all is dropped by the VM (with a Rust
         * server's "no reply" signal, the tag with bit 62), not received
         * later as another message, as OTP drops it with its alias. */
        vm_result_void_t ignored;
        vm_raw_mailbox_forget_tag(req.tag, &ignored);
        vm_raw_mailbox_forget_tag(req.tag | (UINT64_C(1) << 62), &ignored);
    }
    return s;
}

vm_status_t vm_reply(const vm_request_t *req, const void *data, size_t len) {
    return vm_send(req->from, req->tag, data, len);
}

vm_status_t vm_reply_writer(const vm_request_t *req, const vm_writer_t *w) {
    return vm_send_writer(req->from, req->tag, w);
}

/* ---- registry and timers ---- */

vm_status_t vm_register(const char *name, vm_pid_t pid) {
    vm_result_void_t r;
    vm_raw_registry_register(name, text_len(name), pid, &r);
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_lookup(const char *name, vm_pid_t *out) {
    vm_result_u64_t r;
    vm_raw_registry_lookup(name, text_len(name), &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_unregister(const char *name) {
    vm_result_void_t r;
    vm_raw_registry_unregister(name, text_len(name), &r);
    return status_of(r.is_err, r.val.err);
}

uint32_t vm_node_self(void) { return vm_raw_node_self_node(); }

size_t vm_node_up(uint32_t *out, size_t cap) {
    vm_result_u32_t r;
    uint32_t none[1];
    /* An empty buffer still needs an aligned address inside memory. */
    if (cap == 0 || out == NULL) {
        out = none;
        cap = 0;
    }
    vm_raw_node_up((uint32_t)(uintptr_t)out, (uint32_t)cap, &r);
    return r.is_err ? 0 : r.val.ok;
}

vm_status_t vm_node_name(uint32_t slot, char *buf, size_t cap, size_t *len) {
    vm_result_u32_t r;
    if (cap == 0) return vm_sdk_fail_(VM_E_INVALID_ARGUMENT, "vm_node_name: a buffer of 0 bytes");
    vm_raw_node_name(slot, (uint32_t)(uintptr_t)buf, (uint32_t)(cap - 1), &r);
    if (r.is_err) return status_of(r.is_err, r.val.err);
    size_t full = r.val.ok;
    buf[full < cap - 1 ? full : cap - 1] = 0;
    if (len) *len = full;
    return VM_OK;
}

static vm_status_t spawn_on(uint32_t slot, vm_handle_t module, const char *entry, uint32_t arg, const void *init,
                            size_t len, bool link, vm_pid_t *out) {
    vm_status_t bad = null_buffer("spawn_on", init, len);
    if (bad != VM_OK) return bad;
    vm_result_u64_t r;
    vm_raw_node_spawn_on(slot, module, entry, text_len(entry), arg, init, len, link ? VM_SPAWN_OPTIONS_LINK_BIT : 0, &r);
    if (!r.is_err && out) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_spawn_on(uint32_t slot, vm_process_fn fn, const void *capture, size_t len, bool link, vm_pid_t *out) {
    if (len > VM_MAX_CAPTURE) {
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_spawn_on: a capture of %u bytes is over VM_MAX_CAPTURE (%u)",
                            (uint64_t)len, (uint64_t)VM_MAX_CAPTURE);
    }
    return spawn_on(slot, 0, VM_C_ENTRY, (uint32_t)(uintptr_t)fn, capture, len, link, out);
}

vm_status_t vm_spawn_module_on(uint32_t slot, vm_module_t module, const char *entry, uint32_t arg, const void *init,
                               size_t len, bool link, vm_pid_t *out) {
    return spawn_on(slot, module.handle, entry, arg, init, len, link, out);
}

uint64_t vm_monitor_node(uint32_t slot) { return vm_raw_node_monitor_node(slot); }
void vm_demonitor_node(uint64_t monitor) { vm_raw_node_demonitor_node(monitor); }

vm_status_t vm_register_global(const char *name, vm_pid_t pid) {
    vm_result_void_t r;
    vm_raw_global_register(name, text_len(name), pid, &r);
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_lookup_global(const char *name, vm_pid_t *out) {
    vm_result_u64_t r;
    vm_raw_global_lookup(name, text_len(name), &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_unregister_global(const char *name) {
    vm_result_void_t r;
    vm_raw_global_unregister(name, text_len(name), &r);
    return status_of(r.is_err, r.val.err);
}

uint64_t vm_send_after(vm_pid_t to, uint64_t tag, const void *data, size_t len, uint64_t delay_ms) {
    /* No status to report it with: a bug in the caller ends it as one. */
    if (!data && len > 0) vm_panic("vm_send_after: a NULL buffer with a length");
    return vm_raw_timer_send_after(to, tag, data, len, nanos_u(delay_ms));
}

vm_status_t vm_send_after_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, vm_handle_t *handles,
                                  size_t nhandles, uint64_t delay_ms, uint64_t *timer) {
    vm_status_t bad = null_buffer("vm_send_after_handles", data, len);
    if (bad != VM_OK) return bad;
    vm_result_u64_t r;
    vm_raw_timer_send_after_with_handles(to, tag, data, len, handles, nhandles, nanos_u(delay_ms), &r);
    if (r.is_err) return vm_failed(r.val.err);
    zero_handles(handles, nhandles);
    if (timer) *timer = r.val.ok;
    return VM_OK;
}

bool vm_cancel_timer(uint64_t timer) { return vm_raw_timer_cancel(timer); }

/* ---- TCP ---- */

static vm_status_t handle_result(const vm_result_u32_t *r, vm_handle_t *out) {
    if (!r->is_err) *out = r->val.ok;
    return status_of(r->is_err, r->val.err);
}

/* A wait as the ABI's option<u64> of nanoseconds: none (the socket's own
 * timeout) for VM_FOREVER. */
#define TIMEOUT_ARGS(ms) (ms) >= 0, (ms) >= 0 ? nanos(ms) : 0

vm_status_t vm_resolve(const char *host, char *buf, size_t cap, size_t *len) {
    if (cap == 0) return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_resolve: a buffer of 0 bytes");
    vm_result_u32_t r;
    vm_raw_net_resolve(host, text_len(host), addr(buf), (uint32_t)(cap - 1), &r);
    if (r.is_err) return vm_failed(r.val.err);
    if (len) *len = r.val.ok;
    if (r.val.ok > cap - 1) {
        buf[cap - 1] = 0;
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "vm_resolve: the addresses take %u bytes and a NUL, the buffer holds %u",
                            (uint64_t)r.val.ok, (uint64_t)cap);
    }
    buf[r.val.ok] = 0;
    return VM_OK;
}

vm_status_t vm_tcp_bind(const char *address, vm_tcp_listener_t *out) {
    vm_result_u32_t r;
    vm_raw_net_bind(address, text_len(address), &r);
    return handle_result(&r, &out->handle);
}

vm_status_t vm_tcp_accept(vm_tcp_listener_t listener, int64_t timeout_ms, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_accept(listener.handle, TIMEOUT_ARGS(timeout_ms), &r);
    return handle_result(&r, &out->handle);
}

vm_status_t vm_tcp_connect(const char *address, int64_t timeout_ms, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_connect(address, text_len(address), TIMEOUT_ARGS(timeout_ms), &r);
    return handle_result(&r, &out->handle);
}

static vm_status_t address_text(vm_handle_t socket, char *buf, size_t cap, bool peer) {
    if (cap == 0) return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "an address into a buffer of 0 bytes");
    vm_result_u32_t r;
    if (peer) vm_raw_net_peer_address(socket, addr(buf), (uint32_t)(cap - 1), &r);
    else vm_raw_net_local_address(socket, addr(buf), (uint32_t)(cap - 1), &r);
    if (r.is_err) return vm_failed(r.val.err);
    if (r.val.ok > cap - 1) {
        buf[cap - 1] = 0;
        return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "the address takes %u bytes and a NUL, the buffer holds %u",
                            (uint64_t)r.val.ok, (uint64_t)cap);
    }
    buf[r.val.ok] = 0;
    return VM_OK;
}

vm_status_t vm_tcp_local_address(vm_handle_t socket, char *buf, size_t cap) {
    return address_text(socket, buf, cap, false);
}

vm_status_t vm_tcp_peer_address(vm_handle_t socket, char *buf, size_t cap) {
    return address_text(socket, buf, cap, true);
}

vm_status_t vm_tcp_listener_local_address(vm_tcp_listener_t l, char *buf, size_t cap) {
    return address_text(l.handle, buf, cap, false);
}

vm_status_t vm_tcp_stream_local_address(vm_tcp_stream_t s, char *buf, size_t cap) {
    return address_text(s.handle, buf, cap, false);
}

vm_status_t vm_tcp_stream_peer_address(vm_tcp_stream_t s, char *buf, size_t cap) {
    return address_text(s.handle, buf, cap, true);
}

vm_status_t vm_read_half_local_address(vm_read_half_t h, char *buf, size_t cap) {
    return address_text(h.handle, buf, cap, false);
}

vm_status_t vm_read_half_peer_address(vm_read_half_t h, char *buf, size_t cap) {
    return address_text(h.handle, buf, cap, true);
}

vm_status_t vm_write_half_local_address(vm_write_half_t h, char *buf, size_t cap) {
    return address_text(h.handle, buf, cap, false);
}

vm_status_t vm_write_half_peer_address(vm_write_half_t h, char *buf, size_t cap) {
    return address_text(h.handle, buf, cap, true);
}

static vm_status_t read_handle(vm_handle_t h, void *buf, size_t cap, int64_t timeout_ms, bool peek, size_t *n) {
    *n = 0;
    vm_status_t bad = null_buffer(peek ? "peek" : "read", buf, cap);
    if (bad != VM_OK) return bad;
    vm_result_u32_t r;
    if (peek) vm_raw_net_peek(h, addr(buf), (uint32_t)cap, TIMEOUT_ARGS(timeout_ms), &r);
    else vm_raw_net_read(h, addr(buf), (uint32_t)cap, TIMEOUT_ARGS(timeout_ms), &r);
    *n = r.is_err ? 0 : r.val.ok;
    return status_of(r.is_err, r.val.err);
}

static vm_status_t try_write_handle(vm_handle_t h, const void *data, size_t len, size_t *n) {
    *n = 0;
    vm_status_t bad = null_buffer("write", data, len);
    if (bad != VM_OK) return bad;
    vm_result_u32_t r;
    vm_raw_net_try_write(h, data, len, &r);
    *n = r.is_err ? 0 : r.val.ok;
    if (r.is_err) return vm_failed(r.val.err);
    if (r.val.ok == 0 && len > 0)
        return vm_sdk_fail_(VM_E_WOULD_BLOCK, "try-write: the socket's send buffer is full; write waits for room");
    return VM_OK;
}

static vm_status_t write_handle(vm_handle_t h, const void *data, size_t len, int64_t timeout_ms, size_t *n) {
    /* Try without waiting (cheaper: the process is not suspended); wait for
     * room only when the send buffer is full. */
    vm_status_t s = try_write_handle(h, data, len, n);
    if (s != VM_E_WOULD_BLOCK) return s;
    vm_result_u32_t r;
    vm_raw_net_write(h, data, len, TIMEOUT_ARGS(timeout_ms), &r);
    *n = r.is_err ? 0 : r.val.ok;
    return status_of(r.is_err, r.val.err);
}

static vm_status_t write_all_handle(vm_handle_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        size_t n;
        vm_status_t s = write_handle(h, p, len, VM_FOREVER, &n);
        if (s != VM_OK) return s;
        p += n;
        len -= n;
    }
    return VM_OK;
}

static vm_status_t shutdown_handle(vm_handle_t h, vm_shutdown_how_t how) {
    vm_result_void_t r;
    vm_raw_net_shutdown(h, how, &r);
    return status_of(r.is_err, r.val.err);
}

static vm_status_t set_timeout(vm_handle_t h, vm_direction_t direction, int64_t ms) {
    if (ms == 0) {
        return vm_sdk_fail_(VM_E_INVALID_ARGUMENT,
                            "a socket timeout of 0 ms cannot be set (VM_FOREVER clears it; to not wait, try-write or "
                            "read with a timeout)");
    }
    vm_result_void_t r;
    vm_raw_net_set_timeout(h, direction, ms < 0 ? 0 : nanos(ms), &r);
    return status_of(r.is_err, r.val.err);
}

static vm_status_t timeout_of(vm_handle_t h, vm_direction_t direction, int64_t *ms) {
    vm_result_u64_t r;
    vm_raw_net_timeout(h, direction, &r);
    if (r.is_err) return vm_failed(r.val.err);
    /* Rounded up, so a timeout under a millisecond is not shown as 0. */
    uint64_t whole = r.val.ok / 1000000u + (r.val.ok % 1000000u != 0);
    *ms = r.val.ok == 0 ? VM_FOREVER : whole > INT64_MAX ? INT64_MAX : (int64_t)whole;
    return VM_OK;
}

static vm_status_t set_nodelay(vm_handle_t h, bool enabled) {
    vm_result_void_t r;
    vm_raw_net_set_nodelay(h, enabled, &r);
    return status_of(r.is_err, r.val.err);
}

static vm_status_t nodelay_of(vm_handle_t h, bool *enabled) {
    vm_result_u8_t r;
    vm_raw_net_nodelay(h, &r);
    if (!r.is_err) *enabled = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_tcp_read(vm_tcp_stream_t s, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(s.handle, buf, cap, timeout_ms, false, n);
}

vm_status_t vm_tcp_peek(vm_tcp_stream_t s, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(s.handle, buf, cap, timeout_ms, true, n);
}

vm_status_t vm_tcp_write(vm_tcp_stream_t s, const void *data, size_t len, int64_t timeout_ms, size_t *n) {
    return write_handle(s.handle, data, len, timeout_ms, n);
}

vm_status_t vm_tcp_try_write(vm_tcp_stream_t s, const void *data, size_t len, size_t *n) {
    return try_write_handle(s.handle, data, len, n);
}

vm_status_t vm_tcp_write_all(vm_tcp_stream_t s, const void *data, size_t len) {
    return write_all_handle(s.handle, data, len);
}

vm_status_t vm_tcp_shutdown(vm_tcp_stream_t s, vm_shutdown_how_t how) { return shutdown_handle(s.handle, how); }

vm_status_t vm_tcp_set_read_timeout(vm_tcp_stream_t s, int64_t ms) {
    return set_timeout(s.handle, VM_DIRECTION_READ, ms);
}

vm_status_t vm_tcp_set_write_timeout(vm_tcp_stream_t s, int64_t ms) {
    return set_timeout(s.handle, VM_DIRECTION_WRITE, ms);
}

vm_status_t vm_tcp_read_timeout(vm_tcp_stream_t s, int64_t *ms) { return timeout_of(s.handle, VM_DIRECTION_READ, ms); }

vm_status_t vm_tcp_write_timeout(vm_tcp_stream_t s, int64_t *ms) {
    return timeout_of(s.handle, VM_DIRECTION_WRITE, ms);
}

vm_status_t vm_tcp_set_nodelay(vm_tcp_stream_t s, bool enabled) { return set_nodelay(s.handle, enabled); }
vm_status_t vm_tcp_nodelay(vm_tcp_stream_t s, bool *enabled) { return nodelay_of(s.handle, enabled); }

vm_status_t vm_read_half_set_active(vm_read_half_t half, uint32_t count, uint64_t tag) {
    vm_result_void_t r;
    vm_raw_net_set_active(half.handle, count, tag, &r);
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_decode_socket_event(const void *data, size_t len, vm_socket_event_t *out) {
    vm_reader_t r;
    vm_reader_init(&r, data, len);
    uint32_t kind = vm_get_variant(&r);
    out->data = NULL;
    out->len = 0;
    if (kind == VM_SOCKET_DATA || kind == VM_SOCKET_ERROR) {
        out->len = vm_get_bytes(&r, &out->data);
    } else if (kind != VM_SOCKET_CLOSED) {
        r.error = true;
    }
    out->kind = (vm_socket_event_kind_t)kind;
    if (vm_reader_finish(&r) != VM_OK) {
        return vm_sdk_fail_(VM_E_DECODE, "a message of %u bytes is not a socket event", (uint64_t)len);
    }
    return VM_OK;
}

vm_status_t vm_tcp_split(vm_tcp_stream_t *s, vm_read_half_t *read, vm_write_half_t *write) {
    vm_result_halves_t r;
    vm_raw_net_split(s->handle, &r);
    if (r.is_err) return vm_failed(r.val.err);
    s->handle = 0;
    read->handle = r.val.ok.read;
    write->handle = r.val.ok.write;
    return VM_OK;
}

vm_status_t vm_tcp_reunite(vm_read_half_t *read, vm_write_half_t *write, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_reunite(read->handle, write->handle, &r);
    if (r.is_err) return vm_failed(r.val.err);
    read->handle = 0;
    write->handle = 0;
    out->handle = r.val.ok;
    return VM_OK;
}

vm_status_t vm_read_half_read(vm_read_half_t h, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(h.handle, buf, cap, timeout_ms, false, n);
}

vm_status_t vm_read_half_peek(vm_read_half_t h, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(h.handle, buf, cap, timeout_ms, true, n);
}

vm_status_t vm_read_half_shutdown(vm_read_half_t h) { return shutdown_handle(h.handle, VM_SHUTDOWN_HOW_READ); }
vm_status_t vm_read_half_set_timeout(vm_read_half_t h, int64_t ms) {
    return set_timeout(h.handle, VM_DIRECTION_READ, ms);
}
vm_status_t vm_read_half_timeout(vm_read_half_t h, int64_t *ms) { return timeout_of(h.handle, VM_DIRECTION_READ, ms); }

vm_status_t vm_write_half_write(vm_write_half_t h, const void *data, size_t len, int64_t timeout_ms, size_t *n) {
    return write_handle(h.handle, data, len, timeout_ms, n);
}

vm_status_t vm_write_half_try_write(vm_write_half_t h, const void *data, size_t len, size_t *n) {
    return try_write_handle(h.handle, data, len, n);
}

vm_status_t vm_write_half_write_all(vm_write_half_t h, const void *data, size_t len) {
    return write_all_handle(h.handle, data, len);
}

vm_status_t vm_write_half_shutdown(vm_write_half_t h) { return shutdown_handle(h.handle, VM_SHUTDOWN_HOW_WRITE); }
vm_status_t vm_write_half_set_timeout(vm_write_half_t h, int64_t ms) {
    return set_timeout(h.handle, VM_DIRECTION_WRITE, ms);
}
vm_status_t vm_write_half_timeout(vm_write_half_t h, int64_t *ms) {
    return timeout_of(h.handle, VM_DIRECTION_WRITE, ms);
}
vm_status_t vm_write_half_set_nodelay(vm_write_half_t h, bool enabled) { return set_nodelay(h.handle, enabled); }
vm_status_t vm_write_half_nodelay(vm_write_half_t h, bool *enabled) { return nodelay_of(h.handle, enabled); }

vm_status_t vm_tcp_listener_close(vm_tcp_listener_t *l) { return close_handle(&l->handle); }
vm_status_t vm_tcp_close(vm_tcp_stream_t *s) { return close_handle(&s->handle); }
vm_status_t vm_read_half_close(vm_read_half_t *h) { return close_handle(&h->handle); }
vm_status_t vm_write_half_close(vm_write_half_t *h) { return close_handle(&h->handle); }

/* ---- plugins ---- */

#if __STDC_HOSTED__
#include <stdlib.h>

/* The canonical ABI's allocator. The VM puts each string and list a plugin
 * call returns (the functions of a header `vm bindgen` generates from a
 * plugin's WIT) in memory it allocates through this export, and the caller
 * owns it: free() releases it. malloc's blocks are aligned to 16 bytes, more
 * than any canonical type asks (8). Weak, so a module's own wins; a
 * freestanding module has no malloc and defines its own if it needs one. */
__attribute__((export_name("cabi_realloc"), weak)) void *cabi_realloc(void *old, size_t old_size, size_t align,
                                                                       size_t new_size) {
    (void)old_size;
    if (align > _Alignof(max_align_t)) vm_exit("cabi_realloc: an alignment over 16 bytes");
    void *p = realloc(old, new_size ? new_size : 1);
    if (!p) vm_exit("cabi_realloc: out of memory");
    return p;
}
#endif
