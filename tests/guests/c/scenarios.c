/* The cross-language scenarios of tests/guests/SCENARIOS.md, through the C
 * SDK's public API: `scenarios NAME` runs one and prints its transcript,
 * which tests/tests/sdk_scenarios.rs pins (the AssemblyScript guest prints
 * the same). Processes synchronise with messages and monitors, never with
 * sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vm.h>

/* ---- helpers ---- */

/* Ends the run with what failed, when a step the scenario relies on fails. */
static void check(vm_status_t s, const char *what) {
    if (s == VM_OK) return;
    char why[256];
    vm_last_error(why, sizeof why);
    fprintf(stderr, "scenarios: %s failed: %s: %s\n", what, vm_strerror(s), why);
    vm_exit(what);
}

/* A process's capture: one process id (the root's, for those that report
 * back), or nothing. */
static vm_pid_t spawn_with(vm_process_fn fn, bool link, vm_pid_t arg) {
    uint8_t capture[16];
    vm_writer_t w;
    vm_writer_init(&w, capture, sizeof capture);
    vm_put_u64(&w, arg);
    vm_pid_t pid;
    check(vm_spawn(fn, w.data, w.len, 0, 0, link, &pid), "spawn");
    return pid;
}

static vm_pid_t capture_pid(const uint8_t *capture, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, capture, len);
    vm_pid_t pid = vm_get_u64(&r);
    check(vm_reader_finish(&r), "decoding the capture");
    return pid;
}

static void send_text(vm_pid_t to, const char *text) {
    uint8_t buf[256];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_str(&w, text);
    check(vm_send_writer(to, 0, &w), "sending a text");
}

static void send_u32(vm_pid_t to, uint32_t n) {
    uint8_t buf[8];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, n);
    check(vm_send_writer(to, 0, &w), "sending a number");
}

/* Decodes `m` as a text message into `out` (NUL-terminated). */
static void text_of(const vm_message_t *m, char *out, size_t cap) {
    vm_reader_t r;
    vm_reader_init_message(&r, m);
    const char *s;
    size_t n = vm_get_str(&r, &s);
    check(vm_reader_finish(&r), "decoding a text");
    snprintf(out, cap, "%.*s", (int)n, s);
}

/* Receives a data message within `timeout_ms` and decodes it as text. */
static vm_status_t receive_text(int64_t timeout_ms, char *out, size_t cap) {
    uint8_t buf[256];
    vm_message_t m;
    vm_status_t s = vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, timeout_ms, buf, sizeof buf, &m);
    if (s == VM_OK) text_of(&m, out, cap);
    return s;
}

static uint32_t u32_of(const vm_message_t *m) {
    vm_reader_t r;
    vm_reader_init_message(&r, m);
    uint32_t n = vm_get_u32(&r);
    check(vm_reader_finish(&r), "decoding a number");
    return n;
}

static void send_go(vm_pid_t to) { check(vm_send(to, 0, "go", 2), "sending go"); }

static void wait_go(void) {
    uint8_t buf[16];
    vm_message_t m;
    check(vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "waiting for go");
}

/* An exit reason as the transcripts print it. */
static void format_reason(const vm_reason_t *r, char *out, size_t cap) {
    if (r->kind == VM_EXIT_REASON_EXIT) snprintf(out, cap, "exit \"%.*s\"", VM_STR_ARG(r->text));
    else snprintf(out, cap, "%s", vm_exit_reason_name(r->kind));
}

static const char *reason_text(const vm_reason_t *r) {
    static char text[256];
    format_reason(r, text, sizeof text);
    return text;
}

/* Monitors `pid`, sends it go, and waits for its down. */
static vm_reason_t go_and_wait_down(vm_pid_t pid, bool *from_it) {
    uint64_t monitor = vm_monitor(pid);
    send_go(pid);
    uint8_t buf[512];
    vm_message_t m;
    vm_reason_t reason;
    check(vm_receive_down(monitor, VM_FOREVER, buf, sizeof buf, &m, &reason), "receiving a down");
    /* The text points into `buf`: keep what the transcripts print. */
    static char text[256];
    vm_str_copy(reason.text, text, sizeof text);
    reason.text = vm_str(text);
    if (from_it) *from_it = m.envelope.sender == pid;
    return reason;
}

static vm_reason_t wait_down(uint64_t monitor) {
    static uint8_t buf[512];
    vm_message_t m;
    vm_reason_t reason;
    check(vm_receive_down(monitor, VM_FOREVER, buf, sizeof buf, &m, &reason), "receiving a down");
    return reason;
}

/* ---- processes the scenarios spawn ---- */

static void returns_after_go(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    wait_go();
}

static void traps_after_go(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    wait_go();
    __builtin_trap();
}

static void exits_after_go(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    wait_go();
    vm_exit("custom reason");
}

static void receives_forever(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[64];
    vm_message_t m;
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) == VM_OK) {
    }
}

static void traps_at_once(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    __builtin_trap();
}

/* Links a child that traps at once, after go, then waits forever. */
static void middle(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    wait_go();
    spawn_with(traps_at_once, true, 0);
    receives_forever(0, 0);
}

static void exits_bye(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    vm_exit("bye");
}

static void exits_bye2_after_go(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    wait_go();
    vm_exit("bye2");
}

static void echo(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[256];
    vm_message_t m;
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) == VM_OK) {
        vm_send(m.envelope.sender, m.envelope.tag, m.data, m.len);
    }
}

/* Traps exits, tells the root, and reports the exit message it gets. */
static void trapper(const uint8_t *capture, size_t len) {
    vm_pid_t root = capture_pid(capture, len);
    vm_trap_exits(true);
    send_text(root, "trapping");
    uint8_t buf[256];
    vm_message_t m;
    vm_reason_t reason;
    check(vm_receive_exit(VM_FOREVER, buf, sizeof buf, &m, &reason), "receiving the exit");
    char text[256];
    snprintf(text, sizeof text, "from parent: %s %s", m.envelope.sender == root ? "true" : "false",
             reason_text(&reason));
    send_text(root, text);
}

static void busy_forever(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    volatile uint64_t spins = 0;
    for (;;) spins++;
}

static void registers_as_worker(const uint8_t *capture, size_t len) {
    vm_pid_t root = capture_pid(capture, len);
    check(vm_register("worker", vm_self()), "registering worker");
    send_text(root, "registered");
    wait_go();
}

/* Doubles each request's u32 body; a body of 0 traps. */
static void doubler(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[64], out[16];
    vm_message_t m;
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) == VM_OK) {
        vm_reader_t r;
        vm_reader_init_message(&r, &m);
        vm_request_t req;
        vm_get_request(&r, &req);
        uint32_t body = vm_get_u32(&r);
        if (vm_reader_finish(&r) != VM_OK) continue;
        if (body == 0) __builtin_trap();
        vm_writer_t w;
        vm_writer_init(&w, out, sizeof out);
        vm_put_u64(&w, body * 2);
        vm_reply_writer(&req, &w);
    }
}

/* Takes the read half it was given and sends the root its first 5 bytes. */
static void half_reader(const uint8_t *capture, size_t len) {
    vm_pid_t root = capture_pid(capture, len);
    vm_read_half_t half;
    check(vm_take_handle(0, &half.handle), "taking the read half");
    char text[6] = {0};
    size_t have = 0;
    while (have < 5) {
        size_t n;
        check(vm_read_half_read(half, text + have, 5 - have, VM_FOREVER, &n), "reading the read half");
        if (n == 0) vm_exit("the read half ended early");
        have += n;
    }
    send_text(root, text);
}

/* ---- scenarios ---- */

static void monitor(void) {
    static const struct {
        const char *label;
        vm_process_fn fn;
    } cases[] = {{"normal", returns_after_go}, {"crash", traps_after_go}, {"custom", exits_after_go}};
    vm_pid_t first = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vm_pid_t w = spawn_with(cases[i].fn, false, 0);
        if (i == 0) first = w;
        bool from_it;
        vm_reason_t reason = go_and_wait_down(w, &from_it);
        printf("%s: %s %s\n", cases[i].label, reason_text(&reason), from_it ? "from it" : "from someone else");
    }

    vm_reason_t ended = wait_down(vm_monitor(first));
    printf("ended: %s\n", reason_text(&ended));

    vm_pid_t w = spawn_with(returns_after_go, false, 0);
    uint64_t m1 = vm_monitor(w);
    uint64_t m2 = vm_monitor(w);
    vm_demonitor(m1);
    send_go(w);
    vm_reason_t other = wait_down(m2);
    uint8_t buf[64];
    vm_message_t m;
    vm_status_t s = vm_receive(&m1, 1, VM_MESSAGE_KINDS_DOWN, 0, buf, sizeof buf, &m);
    printf("demonitored: %s after the other monitor's %s\n", vm_strerror(s), reason_text(&other));
}

static void links(void) {
    vm_pid_t middle_pid = spawn_with(middle, false, 0);
    vm_reason_t reason = go_and_wait_down(middle_pid, 0);
    printf("middle ended: %s\n", reason_text(&reason));
    printf("parent still alive\n");

    uint8_t buf[256];
    vm_message_t m;
    vm_trap_exits(true);
    vm_pid_t child = spawn_with(exits_bye, true, 0);
    check(vm_receive_exit(VM_FOREVER, buf, sizeof buf, &m, &reason), "receiving the child's exit");
    printf("trapped exit from child: %s %s\n", m.envelope.sender == child ? "true" : "false", reason_text(&reason));

    vm_pid_t l = spawn_with(exits_bye2_after_go, true, 0);
    uint64_t monitor = vm_monitor(l);
    vm_unlink(l);
    send_go(l);
    wait_down(monitor);
    vm_status_t s = vm_receive_exit(0, buf, sizeof buf, &m, &reason);
    printf("after unlink: %s\n", vm_strerror(s));

    vm_trap_exits(false);
    printf("link to ended: %s\n", vm_strerror(vm_link(child)));

    vm_trap_exits(true);
    s = vm_link(child);
    check(vm_receive_exit(VM_FOREVER, buf, sizeof buf, &m, &reason), "receiving noproc");
    printf("link to ended while trapping: %s then %s\n", vm_strerror(s), reason_text(&reason));
    vm_trap_exits(false);
}

static void exits(void) {
    vm_pid_t w = spawn_with(receives_forever, false, 0);
    uint64_t monitor = vm_monitor(w);
    vm_send_exit(w, "shutdown");
    vm_reason_t reason = wait_down(monitor);
    printf("not trapping: %s\n", reason_text(&reason));

    vm_pid_t e = spawn_with(echo, false, 0);
    vm_send_exit(e, "");
    send_u32(e, 7);
    uint8_t buf[64];
    vm_message_t m;
    check(vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "receiving the echo");
    printf("normal ignored: still answers %u\n", u32_of(&m));

    vm_pid_t t = spawn_with(trapper, false, vm_self());
    char text[256];
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving trapping");
    printf("%s\n", text);
    vm_send_exit(t, "please stop");
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving the trapper's report");
    printf("trapped: %s\n", text);

    vm_pid_t b = spawn_with(busy_forever, false, 0);
    monitor = vm_monitor(b);
    vm_kill(b);
    reason = wait_down(monitor);
    printf("killed: %s\n", reason_text(&reason));
}

static void registry(void) {
    vm_pid_t found = 0;
    check(vm_register("root", vm_self()), "registering root");
    vm_status_t s = vm_lookup("root", &found);
    printf("lookup root: %s\n", s == VM_OK && found == vm_self() ? "true" : "false");
    printf("second register: %s\n", vm_strerror(vm_register("root", vm_self())));

    vm_pid_t w = spawn_with(registers_as_worker, false, vm_self());
    char text[64];
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving registered");
    printf("worker %s\n", text);
    s = vm_lookup("worker", &found);
    printf("lookup worker: %s\n", s == VM_OK && found == w ? "true" : "false");

    go_and_wait_down(w, 0);
    printf("after worker ended: %s\n", vm_strerror(vm_lookup("worker", &found)));

    check(vm_unregister("root"), "unregistering root");
    printf("unregister twice: %s\n", vm_strerror(vm_unregister("root")));
}

static uint64_t text_after(const char *text, uint64_t delay_ms) {
    uint8_t buf[64];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_str(&w, text);
    check(vm_writer_status(&w), "encoding a timer's text");
    return vm_send_after(vm_self(), 0, w.data, w.len, delay_ms);
}

static void timer(void) {
    char text[64];
    uint64_t late = text_after("late", 50);
    printf("before: %s\n", vm_strerror(receive_text(0, text, sizeof text)));
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving late");
    printf("after: %s\n", text);

    printf("cancelled: %s\n", vm_cancel_timer(text_after("never", 30)) ? "true" : "false");
    text_after("later", 60);
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving later");
    printf("then: %s\n", text);
    printf("nothing else: %s\n", vm_strerror(receive_text(100, text, sizeof text)));

    printf("cancel after firing: %s\n", vm_cancel_timer(late) ? "true" : "false");
}

/* Requests `body` from `server`; the reply, or the failure, as text. */
static const char *request_u32(vm_pid_t server, uint32_t body, int64_t timeout_ms) {
    static char text[64];
    uint8_t buf[32], reply_buf[64];
    vm_writer_t w;
    vm_request_begin(&w, buf, sizeof buf);
    vm_put_u64(&w, body);
    vm_message_t reply;
    vm_reason_t down;
    vm_status_t s = vm_request(server, &w, timeout_ms, reply_buf, sizeof reply_buf, &reply, &down);
    if (s == VM_OK) snprintf(text, sizeof text, "%u", u32_of(&reply));
    else if (s == VM_E_DOWN) snprintf(text, sizeof text, "%s %s", vm_strerror(s), reason_text(&down));
    else snprintf(text, sizeof text, "%s", vm_strerror(s));
    return text;
}

static void request(void) {
    vm_pid_t server = spawn_with(doubler, false, 0);
    send_u32(vm_self(), 999);
    printf("21 * 2 = %s\n", request_u32(server, 21, VM_FOREVER));
    uint8_t buf[64];
    vm_message_t m;
    check(vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "receiving 999");
    printf("left in the mailbox: %u\n", u32_of(&m));

    vm_pid_t silent = spawn_with(receives_forever, false, 0);
    printf("no reply: %s\n", request_u32(silent, 1, 50));
    printf("server crashed: %s\n", request_u32(server, 0, VM_FOREVER));
    printf("server gone: %s\n", request_u32(server, 5, VM_FOREVER));
    vm_status_t s = vm_receive(0, 0, VM_MESSAGE_KINDS_DOWN, 0, buf, sizeof buf, &m);
    printf("no stray downs: %s\n", vm_strerror(s));
}

/* Connects a stream to `listener` and accepts its other end. */
static void connected_pair(vm_tcp_listener_t listener, vm_tcp_stream_t *near, vm_tcp_stream_t *far) {
    char address[64];
    check(vm_tcp_listener_local_address(listener, address, sizeof address), "the listener's address");
    check(vm_tcp_connect(address, VM_FOREVER, near), "connecting");
    check(vm_tcp_accept(listener, VM_FOREVER, far), "accepting");
}

/* Reads exactly `len` bytes from `stream` into `buf`, NUL-terminated. */
static void read_exactly(vm_tcp_stream_t stream, char *buf, size_t len) {
    size_t have = 0;
    while (have < len) {
        size_t n;
        check(vm_tcp_read(stream, buf + have, len - have, VM_FOREVER, &n), "reading");
        if (n == 0) vm_exit("the stream ended early");
        have += n;
    }
    buf[len] = 0;
}

static void halves(void) {
    vm_tcp_listener_t listener;
    check(vm_tcp_bind("127.0.0.1:0", &listener), "binding");
    vm_tcp_stream_t a, b;
    connected_pair(listener, &a, &b);
    vm_read_half_t ar;
    vm_write_half_t aw;
    check(vm_tcp_split(&a, &ar, &aw), "splitting A");
    vm_handle_t old_ar = ar.handle;
    uint8_t capture[16];
    vm_writer_t w;
    vm_writer_init(&w, capture, sizeof capture);
    vm_put_u64(&w, vm_self());
    check(vm_spawn(half_reader, w.data, w.len, &ar.handle, 1, false, 0), "spawning R");
    check(vm_tcp_write_all(b, "hello", 5), "writing hello");
    char text[64];
    check(receive_text(VM_FOREVER, text, sizeof text), "receiving R's text");
    printf("read half in another process: %s\n", text);

    check(vm_write_half_write_all(aw, "world", 5), "writing world");
    read_exactly(b, text, 5);
    printf("write half: %s\n", text);

    char aw_local[64], aw_peer[64], b_local[64], b_peer[64];
    check(vm_write_half_local_address(aw, aw_local, sizeof aw_local), "AW's local address");
    check(vm_write_half_peer_address(aw, aw_peer, sizeof aw_peer), "AW's peer address");
    check(vm_tcp_stream_local_address(b, b_local, sizeof b_local), "B's local address");
    check(vm_tcp_stream_peer_address(b, b_peer, sizeof b_peer), "B's peer address");
    printf("addresses: %s\n", strcmp(aw_local, b_peer) == 0 && strcmp(aw_peer, b_local) == 0 ? "true" : "false");

    check(vm_write_half_shutdown(aw), "shutting down AW");
    size_t n;
    check(vm_tcp_read(b, text, sizeof text, VM_FOREVER, &n), "reading after shutdown");
    printf("after shutdown: %s\n", n == 0 ? "end of stream" : "more bytes");

    /* The spec's one raw call: the number the moved half had. */
    vm_result_u32_t raw;
    uint8_t byte;
    vm_raw_net_read(old_ar, (uint32_t)(uintptr_t)&byte, 1, 0, 0, &raw);
    printf("moved handle: %s\n", vm_strerror(raw.is_err ? VM_STATUS(raw.val.err) : VM_OK));

    vm_tcp_stream_t c, d;
    connected_pair(listener, &c, &d);
    vm_read_half_t cr, dr;
    vm_write_half_t cw, dw;
    check(vm_tcp_split(&c, &cr, &cw), "splitting C");
    check(vm_tcp_split(&d, &dr, &dw), "splitting D");
    printf("mismatched reunite: %s\n", vm_strerror(vm_tcp_reunite(&cr, &dw, &c)));
    printf("reunited: %s\n", vm_strerror(vm_tcp_reunite(&cr, &cw, &c)));

    static uint8_t chunk[64 << 10];
    vm_status_t s;
    while ((s = vm_tcp_try_write(c, chunk, sizeof chunk, &n)) == VM_OK) {
    }
    printf("try_write on a full buffer: %s\n", vm_strerror(s));
    printf("write timeout: %s\n", vm_strerror(vm_tcp_write(c, chunk, sizeof chunk, 50, &n)));

    vm_tcp_stream_t e, f;
    connected_pair(listener, &e, &f);
    check(vm_tcp_write_all(f, "peek", 4), "writing peek");
    char peeked[5] = {0}, read[5] = {0};
    do check(vm_tcp_peek(e, peeked, 4, VM_FOREVER, &n), "peeking");
    while (n < 4);
    read_exactly(e, read, 4);
    printf("peek then read: %s %s\n", peeked, read);
    printf("silent peer: %s\n", vm_strerror(vm_tcp_read(e, text, sizeof text, 20, &n)));

    vm_tcp_stream_t g, h;
    connected_pair(listener, &g, &h);
    uint64_t tag = 77;
    check(vm_send_after_handles(vm_self(), tag, 0, 0, &g.handle, 1, 1, 0), "sending G through a timer");
    uint8_t buf[16];
    vm_message_t m;
    check(vm_receive(&tag, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "receiving the timer");
    check(vm_take_handle(0, &g.handle), "taking G");
    check(vm_tcp_write_all(g, "via timer", 9), "writing via timer");
    read_exactly(h, text, 9);
    printf("stream through a timer: %s\n", text);
}

/* ---- active ---- */

/* Receives the socket event tagged `tag` and says what it is. */
static void print_event(const char *what, uint64_t tag) {
    uint8_t buf[64];
    vm_message_t m;
    check(vm_receive(&tag, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "receiving an event");
    vm_socket_event_t e;
    check(vm_decode_socket_event(m.data, m.len, &e), "decoding the event");
    switch (e.kind) {
    case VM_SOCKET_DATA:
        printf("%s: data %.*s\n", what, (int)e.len, (const char *)e.data);
        break;
    case VM_SOCKET_CLOSED:
        printf("%s: closed\n", what);
        break;
    default:
        printf("%s: error\n", what);
        break;
    }
}

static void active(void) {
    vm_tcp_listener_t listener;
    check(vm_tcp_bind("127.0.0.1:0", &listener), "binding");
    vm_tcp_stream_t client, server;
    connected_pair(listener, &client, &server);
    vm_read_half_t r;
    vm_write_half_t w;
    check(vm_tcp_split(&server, &r, &w), "splitting");
    uint64_t tag = 7;
    check(vm_read_half_set_active(r, 1, tag), "making it active once");
    check(vm_tcp_write_all(client, "ping", 4), "writing ping");
    print_event("as a message", tag);
    check(vm_tcp_write_all(client, "pong", 4), "writing pong");
    char text[8] = {0};
    size_t have = 0, n;
    while (have < 4) {
        check(vm_read_half_read(r, text + have, 4 - have, VM_FOREVER, &n), "reading");
        have += n;
    }
    printf("passive again, read: %s\n", text);
    check(vm_read_half_set_active(r, 2, tag), "making it active twice");
    printf("a read while active: %s\n", vm_strerror(vm_read_half_read(r, text, 4, 0, &n)));
    check(vm_drop(client.handle), "closing the client");
    print_event("then", tag);
}

/* ---- hibernate ---- */

/* Its state: the count so far and the root's id. Adds each number it is
 * sent to the count, answers with the sum, and hibernates again. */
static void counter(const uint8_t *state, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, state, len);
    uint32_t count = vm_get_u32(&r);
    vm_pid_t root = vm_get_u64(&r);
    check(vm_reader_finish(&r), "decoding the counter's state");
    uint8_t buf[16];
    vm_message_t m;
    check(vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "the counter's receive");
    count += u32_of(&m);
    send_u32(root, count);
    uint8_t next[16];
    vm_writer_t w;
    vm_writer_init(&w, next, sizeof next);
    vm_put_u64(&w, count); /* a u32: postcard writes both as varints */
    vm_put_u64(&w, root);
    vm_hibernate(counter, w.data, w.len, 0, 0);
}

static void hibernation(void) {
    uint8_t state[16];
    vm_writer_t w;
    vm_writer_init(&w, state, sizeof state);
    vm_put_u64(&w, 0);
    vm_put_u64(&w, vm_self());
    vm_pid_t c;
    check(vm_spawn(counter, w.data, w.len, 0, 0, false, &c), "spawning the counter");
    printf("woke for each message, state kept:");
    for (uint32_t n = 1; n <= 3; n++) {
        send_u32(c, n);
        uint8_t buf[16];
        vm_message_t m;
        check(vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "the counter's answer");
        printf(" %u", u32_of(&m));
    }
    printf("\n");
    uint64_t monitor = vm_monitor(c);
    vm_kill(c);
    vm_reason_t reason = wait_down(monitor);
    printf("killed while hibernated: %s\n", reason_text(&reason));
}

/* Serves the Rust `cluster-client` scenario from another node: each
 * Call::Ping { from: u64, seq: u32 } gets `seq` back, Call::Crash ends this
 * process with a panic. Its id is its first line, for the test. */
static void cluster_server(void) {
    printf("server %llu\n", (unsigned long long)vm_self());
    fflush(stdout);
    uint8_t buf[64];
    for (;;) {
        vm_message_t m;
        check(vm_receive(NULL, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m), "receiving a call");
        vm_reader_t r;
        vm_reader_init(&r, m.data, m.len);
        if (vm_get_variant(&r) == 1) vm_panic("asked to crash");
        uint64_t from = vm_get_u64(&r);
        uint32_t seq = vm_get_u32(&r);
        check(vm_reader_status(&r), "decoding a call");
        uint8_t out[8];
        vm_writer_t w;
        vm_writer_init(&w, out, sizeof out);
        vm_put_u64(&w, seq);
        check(vm_send_writer(from, 0, &w), "answering a ping");
    }
}

/* The command line, for the scenarios that take arguments. */
static int scenario_argc;
static char **scenario_argv;

/* `doubler`: starts a doubler as `request`'s (a body of 0 traps), which
 * serves requests from other nodes too, prints its id for the test, and
 * waits for good (so the node stays up when the doubler crashes). */
static void doubler_server(void) {
    printf("doubler %llu\n", (unsigned long long)spawn_with(doubler, false, 0));
    fflush(stdout);
    receives_forever(NULL, 0);
}

/* `ask ID N`: N requests (1..N) to the doubler ID, on another node, and
 * whether each reply is its body doubled; then one that crashes it, and
 * one after it has ended. */
static void ask(void) {
    if (scenario_argc < 4) vm_exit("usage: scenarios ask ID N");
    vm_pid_t server = strtoull(scenario_argv[2], NULL, 10);
    unsigned n = (unsigned)strtoul(scenario_argv[3], NULL, 10);
    bool doubled = true;
    for (unsigned i = 1; i <= n; i++) {
        char expected[16];
        snprintf(expected, sizeof expected, "%u", i * 2);
        doubled = doubled && strcmp(request_u32(server, i, VM_FOREVER), expected) == 0;
    }
    printf("%u replies, each doubled: %s\n", n, doubled ? "true" : "false");
    printf("server crashed: %s\n", request_u32(server, 0, VM_FOREVER));
    printf("server gone: %s\n", request_u32(server, 5, VM_FOREVER));
}

/* The node and global calls on a VM outside a cluster (ABI 1.8). */
static void node_local(void) {
    uint32_t up[4];
    size_t n = vm_node_up(up, 4);
    char name[16];
    size_t len = 0;
    check(vm_node_name(vm_node_self(), name, sizeof name, &len), "naming this node");
    printf("self %u, %zu up: %u, named %s (%zu)\n", vm_node_self(), n, up[0], name, len);
    printf("node 7 name: %s\n", vm_strerror(vm_node_name(7, name, sizeof name, NULL)));
    uint64_t watch = vm_monitor_node(7);
    uint8_t buf[64];
    vm_message_t m;
    vm_reason_t reason;
    check(vm_receive_down(watch, VM_FOREVER, buf, sizeof buf, &m, &reason), "waiting for node 7");
    printf("node 7 down at once: %s, from its id: %d\n", vm_exit_reason_name(reason.kind),
           m.envelope.sender == VM_NODE_ID(7));
    vm_demonitor_node(vm_monitor_node(vm_node_self()));
    check(vm_register_global("g", vm_self()), "registering g");
    printf("global again: %s\n", vm_strerror(vm_register_global("g", vm_self())));
    vm_pid_t found = 0;
    printf("global is not the registry: %s\n", vm_strerror(vm_lookup("g", &found)));
    vm_status_t s = vm_lookup_global("g", &found);
    printf("lookup global: %d\n", s == VM_OK && found == vm_self());
    printf("another node's process: %s\n", vm_strerror(vm_register_global("h", VM_NODE_ID(3) | 1)));
    check(vm_unregister_global("g"), "unregistering g");
    printf("after unregister: %s, again: %s\n", vm_strerror(vm_lookup_global("g", &found)),
           vm_strerror(vm_unregister_global("g")));
    vm_pid_t far = 0;
    printf("spawn on node 5: %s\n", vm_strerror(vm_spawn_on(5, NULL, NULL, 0, false, &far)));
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        void (*run)(void);
    } scenarios[] = {
        {"monitor", monitor}, {"links", links},     {"exits", exits},   {"registry", registry},
        {"timer", timer},     {"request", request}, {"halves", halves},     {"hibernate", hibernation}, {"active", active},
        {"cluster-server", cluster_server}, {"node-local", node_local}, {"doubler", doubler_server}, {"ask", ask},
    };
    scenario_argc = argc;
    scenario_argv = argv;
    const char *name = argc > 1 ? argv[1] : "";
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(name, scenarios[i].name) == 0) {
            scenarios[i].run();
            return 0;
        }
    }
    fprintf(stderr,
            "usage: scenarios monitor|links|exits|registry|timer|request|halves|hibernate|active|cluster-server|"
            "node-local|doubler|ask ID N (not `%s`)\n",
            name);
    vm_exit("scenarios: unknown scenario");
}
