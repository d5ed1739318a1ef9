/* The ergonomic C API over the generated raw imports (vm_abi.h). No libc
 * needed: this file works freestanding and with wasi-libc. */
#include "vm.h"

#if __STDC_HOSTED__
#include <stdio.h>
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

static vm_status_t status_of(uint8_t is_err, uint8_t code) { return is_err ? VM_STATUS(code) : VM_OK; }

const char *vm_strerror(vm_status_t status) {
    static const char *const names[] = {
        "invalid-handle", "out-of-bounds",      "invalid-argument", "timeout",         "not-found",
        "already-registered", "module-invalid", "module-incompatible", "permission-denied", "limit-reached",
        "connection-refused", "connection-reset", "address-in-use", "unreachable",     "not-paired",
        "io",
    };
    if (status == VM_OK) return "ok";
    if (status == VM_E_DECODE) return "decode";
    if (status == VM_E_BUFFER_TOO_SMALL) return "buffer-too-small";
    if (status > 0 && (size_t)(status - 1) < sizeof names / sizeof names[0]) return names[status - 1];
    return "unknown";
}

size_t vm_last_error(char *buf, size_t cap) {
    if (cap == 0) return vm_raw_version_last_error(0, 0);
    uint32_t full = vm_raw_version_last_error(addr(buf), (uint32_t)(cap - 1));
    buf[full < cap - 1 ? full : cap - 1] = 0;
    return full;
}

/* ---- processes ---- */

vm_pid_t vm_self(void) { return vm_raw_process_self_id(); }

#define VM_C_ENTRY "vm_c_entry_1_1"

/* Every process started with vm_spawn begins here, with the table index of
 * its function; its capture is the init message. */
__attribute__((export_name(VM_C_ENTRY))) void vm_c_entry(uint32_t fn_index) {
#if __STDC_HOSTED__
    /* A spawned process may never return (it is killed, or the VM ends with
     * the root), so buffered output would be lost: flush every line. */
    setvbuf(stdout, 0, _IOLBF, 0);
#endif
    uint8_t capture[VM_MAX_CAPTURE];
    vm_message_t m;
    vm_status_t s = vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, capture, sizeof capture, &m);
    if (s != VM_OK || m.truncated) vm_exit("vm_c_entry: the capture does not fit VM_MAX_CAPTURE");
    vm_process_fn fn = (vm_process_fn)(uintptr_t)fn_index;
    fn(m.data, m.len);
}

static vm_status_t spawn(vm_handle_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                         const vm_handle_t *handles, size_t nhandles, bool link, vm_pid_t *out) {
    vm_result_u64_t r;
    vm_raw_process_spawn(module, entry, text_len(entry), arg, init, len, handles, nhandles,
                         link ? VM_SPAWN_OPTIONS_LINK : 0, &r);
    if (!r.is_err && out) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_spawn(vm_process_fn fn, const void *capture, size_t len, const vm_handle_t *handles, size_t nhandles,
                     bool link, vm_pid_t *out) {
    if (len > VM_MAX_CAPTURE) return VM_E_BUFFER_TOO_SMALL;
    return spawn(0, VM_C_ENTRY, (uint32_t)(uintptr_t)fn, capture, len, handles, nhandles, link, out);
}

vm_status_t vm_spawn_module(vm_handle_t module, const char *entry, uint32_t arg, const void *init, size_t len,
                            bool link, vm_pid_t *out) {
    return spawn(module, entry, arg, init, len, 0, 0, link, out);
}

vm_status_t vm_load_module(const void *bytes, size_t len, vm_handle_t *out) {
    vm_result_u32_t r;
    vm_raw_process_load_module(bytes, len, &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

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

vm_status_t vm_send_handles(vm_pid_t to, uint64_t tag, const void *data, size_t len, const vm_handle_t *handles,
                            size_t nhandles) {
    vm_result_void_t r;
    vm_raw_mailbox_send(to, tag, data, len, handles, nhandles, &r);
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_receive(const uint64_t *tags, size_t ntags, vm_message_kinds_t kinds, int64_t timeout_ms, void *buf,
                       size_t cap, vm_message_t *out) {
    vm_result_envelope_t r;
    /* One call: the VM copies the first `cap` bytes along with the envelope. */
    vm_raw_mailbox_receive_into(tags, ntags, kinds, timeout_ms >= 0, timeout_ms >= 0 ? nanos(timeout_ms) : 0,
                                addr(buf), (uint32_t)cap, &r);
    if (r.is_err) return VM_STATUS(r.val.err);
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
    if (cap < size) return VM_E_BUFFER_TOO_SMALL;
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
        if (n == 0) return VM_E_IO;
        have += n;
    }
    m->data = to;
    m->len = size;
    m->truncated = false;
    return VM_OK;
}

vm_status_t vm_read(void *buf, size_t cap, size_t *n) {
    vm_result_u32_t r;
    vm_raw_mailbox_read(addr(buf), (uint32_t)cap, &r);
    *n = r.is_err ? 0 : r.val.ok;
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_send_writer(vm_pid_t to, uint64_t tag, const vm_writer_t *w) {
    if (w->overflow) return VM_E_BUFFER_TOO_SMALL;
    return vm_send(to, tag, w->data, w->len);
}

vm_status_t vm_take_handle(uint32_t index, vm_handle_t *out) {
    vm_result_u32_t r;
    vm_raw_mailbox_take_handle(index, &r);
    if (!r.is_err) *out = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

uint64_t vm_fresh_tag(void) { return vm_raw_mailbox_fresh_tag(); }

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

uint64_t vm_send_after(vm_pid_t to, uint64_t tag, const void *data, size_t len, uint64_t delay_ms) {
    return vm_raw_timer_send_after(to, tag, data, len, nanos_u(delay_ms));
}

bool vm_cancel_timer(uint64_t timer) { return vm_raw_timer_cancel(timer); }

/* ---- TCP ---- */

static vm_status_t handle_result(const vm_result_u32_t *r, vm_handle_t *out) {
    if (!r->is_err) *out = r->val.ok;
    return status_of(r->is_err, r->val.err);
}

vm_status_t vm_tcp_bind(const char *address, vm_tcp_listener_t *out) {
    vm_result_u32_t r;
    vm_raw_net_bind(address, text_len(address), &r);
    return handle_result(&r, &out->handle);
}

vm_status_t vm_tcp_accept(vm_tcp_listener_t listener, int64_t timeout_ms, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_accept(listener.handle, timeout_ms >= 0, timeout_ms >= 0 ? nanos(timeout_ms) : 0, &r);
    return handle_result(&r, &out->handle);
}

vm_status_t vm_tcp_connect(const char *address, int64_t timeout_ms, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_connect(address, text_len(address), timeout_ms >= 0, timeout_ms >= 0 ? nanos(timeout_ms) : 0, &r);
    return handle_result(&r, &out->handle);
}

static vm_status_t address_text(vm_handle_t socket, char *buf, size_t cap, bool peer) {
    if (cap == 0) return VM_E_BUFFER_TOO_SMALL;
    vm_result_u32_t r;
    if (peer) vm_raw_net_peer_address(socket, addr(buf), (uint32_t)(cap - 1), &r);
    else vm_raw_net_local_address(socket, addr(buf), (uint32_t)(cap - 1), &r);
    if (r.is_err) return VM_STATUS(r.val.err);
    if (r.val.ok > cap - 1) return VM_E_BUFFER_TOO_SMALL;
    buf[r.val.ok] = 0;
    return VM_OK;
}

vm_status_t vm_tcp_local_address(vm_handle_t socket, char *buf, size_t cap) {
    return address_text(socket, buf, cap, false);
}

vm_status_t vm_tcp_peer_address(vm_handle_t socket, char *buf, size_t cap) {
    return address_text(socket, buf, cap, true);
}

static vm_status_t read_handle(vm_handle_t h, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    vm_result_u32_t r;
    vm_raw_net_read(h, addr(buf), (uint32_t)cap, timeout_ms >= 0, timeout_ms >= 0 ? nanos(timeout_ms) : 0, &r);
    if (!r.is_err) *n = r.val.ok;
    return status_of(r.is_err, r.val.err);
}

static vm_status_t write_all_handle(vm_handle_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        vm_result_u32_t r;
        /* Try without waiting (cheaper: the process is not suspended); wait
         * for room only when the send buffer is full. */
        vm_raw_net_try_write(h, p, len, &r);
        if (!r.is_err && r.val.ok == 0) vm_raw_net_write(h, p, len, 0, 0, &r);
        if (r.is_err) return VM_STATUS(r.val.err);
        p += r.val.ok;
        len -= r.val.ok;
    }
    return VM_OK;
}

vm_status_t vm_tcp_read(vm_tcp_stream_t s, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(s.handle, buf, cap, timeout_ms, n);
}

vm_status_t vm_tcp_write_all(vm_tcp_stream_t s, const void *data, size_t len) {
    return write_all_handle(s.handle, data, len);
}

vm_status_t vm_tcp_shutdown(vm_tcp_stream_t s, vm_shutdown_how_t how) {
    vm_result_void_t r;
    vm_raw_net_shutdown(s.handle, how, &r);
    return status_of(r.is_err, r.val.err);
}

vm_status_t vm_tcp_split(vm_tcp_stream_t s, vm_read_half_t *read, vm_write_half_t *write) {
    vm_result_halves_t r;
    vm_raw_net_split(s.handle, &r);
    if (r.is_err) return VM_STATUS(r.val.err);
    read->handle = r.val.ok.read;
    write->handle = r.val.ok.write;
    return VM_OK;
}

vm_status_t vm_tcp_reunite(vm_read_half_t read, vm_write_half_t write, vm_tcp_stream_t *out) {
    vm_result_u32_t r;
    vm_raw_net_reunite(read.handle, write.handle, &r);
    return handle_result(&r, &out->handle);
}

vm_status_t vm_read_half_read(vm_read_half_t half, void *buf, size_t cap, int64_t timeout_ms, size_t *n) {
    return read_handle(half.handle, buf, cap, timeout_ms, n);
}

vm_status_t vm_write_half_write_all(vm_write_half_t half, const void *data, size_t len) {
    return write_all_handle(half.handle, data, len);
}
