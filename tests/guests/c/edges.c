/* Edge cases of the C SDK, one per mode (argv[1]); the test pins each
 * outcome:
 *   flush:      printf without a newline, then vm_exit: the text is not lost.
 *   huge-delay: a timer set for 2^63 ms has not fired by the time a 10 ms
 *               timer has (a wrapped delay would fire at once).
 *   overflow:   recursing past the stack traps (the stack lies below the
 *               data, so it runs off address 0 rather than over globals).
 *   errors:     vm_last_error after each kind of failure names that one,
 *               never an older one.
 *   moved:      calls that move or close a resource zero the caller's
 *               handle, and only when it moved (needs --allow-net 127.0.0.1).
 *   request:    a request fails with the server's exit reason, text and
 *               all; a writer not begun as a request is refused.
 *   sockets:    socket timeouts, TCP_NODELAY, peek, resolve and shutdown
 *               through the typed calls (needs --allow-net 127.0.0.1).
 *   reasons:    decoding exit reasons, and the ABI version.
 *   native:     what issue 31's C user tripped on: links to a process that
 *               never was, an empty set of kinds, NULL buffers, handles
 *               taken by kind, handles a receive closed, a message larger
 *               than the generated send's stack buffer (needs --allow-net).
 *   statuses:   every status's number and name, for the cross-language
 *               table test.
 *   lines:      the root starts a line on stderr, a child writes a whole
 *               one, the root ends its own: the VM passes whole lines, so
 *               the child's is not cut into the root's.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vm.h>

#include "../../../examples/c/messages.h"

/* 32 KiB of initialised data: without --stack-first it lies just below the
 * 64 KiB stack, where an overflow of a few KiB lands without a trap. */
static volatile uint8_t global_canary[32 << 10] = {1};

/* About 1 KiB of stack per level, `depth` levels. */
static uint32_t recurse(uint32_t n, uint32_t depth) {
    volatile uint8_t frame[1024];
    frame[n % sizeof frame] = (uint8_t)n;
    if (n == depth) return frame[0];
    return frame[(n + 1) % sizeof frame] + recurse(n + 1, depth);
}

/* Prints the status and the text vm_last_error gives for it. */
static void report(const char *what, vm_status_t s) {
    char why[256];
    vm_last_error(why, sizeof why);
    printf("%s: %s | %s\n", what, vm_strerror(s), why);
}

static void errors(void) {
    vm_pid_t pid;
    report("lookup", vm_lookup("nobody", &pid));
    vm_reader_t r;
    vm_reader_init(&r, "\xff", 1);
    vm_get_u32(&r);
    report("decode", vm_reader_finish(&r));
    report("vm again", vm_lookup("nobody", &pid));
    vm_reader_init(&r, "\x01\x02", 2);
    vm_get_u8(&r);
    report("left over", vm_reader_finish(&r));
    uint8_t small[2];
    vm_writer_t w;
    vm_writer_init(&w, small, sizeof small);
    vm_put_str(&w, "four");
    report("send writer", vm_send_writer(vm_self(), 0, &w));
    static uint8_t big[VM_MAX_CAPTURE + 1];
    report("capture", vm_spawn(0, big, sizeof big, 0, 0, false, 0));
    char address[4];
    vm_tcp_listener_t none = {0};
    report("address", vm_tcp_listener_local_address(none, address, sizeof address));
    /* A successful call leaves the last failure's text as it is. */
    vm_self();
    report("after a success", VM_OK);
}

static void connected_pair(vm_tcp_listener_t listener, vm_tcp_stream_t *near, vm_tcp_stream_t *far) {
    char address[64];
    if (vm_tcp_listener_local_address(listener, address, sizeof address) != VM_OK ||
        vm_tcp_connect(address, VM_FOREVER, near) != VM_OK || vm_tcp_accept(listener, VM_FOREVER, far) != VM_OK) {
        vm_exit("cannot connect a pair");
    }
}

static void takes_a_stream(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    vm_tcp_stream_t s;
    vm_take_handle(0, &s.handle);
    uint8_t buf[8];
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
}

static void moved(void) {
    vm_tcp_listener_t listener;
    if (vm_tcp_bind("127.0.0.1:0", &listener) != VM_OK) vm_exit("cannot bind");
    vm_tcp_stream_t a, b;
    connected_pair(listener, &a, &b);
    vm_read_half_t ar, br;
    vm_write_half_t aw, bw;
    vm_status_t s = vm_tcp_split(&a, &ar, &aw);
    printf("split: %s, stream %u, halves set %s\n", vm_strerror(s), a.handle, ar.handle && aw.handle ? "yes" : "no");
    size_t n;
    uint8_t byte;
    printf("read on the split stream: %s\n", vm_strerror(vm_tcp_read(a, &byte, 1, 0, &n)));
    vm_tcp_split(&b, &br, &bw);
    vm_handle_t r0 = ar.handle, w0 = bw.handle;
    s = vm_tcp_reunite(&ar, &bw, &a);
    printf("not paired: %s, halves kept %s\n", vm_strerror(s), ar.handle == r0 && bw.handle == w0 ? "yes" : "no");
    s = vm_tcp_reunite(&ar, &aw, &a);
    printf("reunite: %s, halves %u %u, stream set %s\n", vm_strerror(s), ar.handle, aw.handle, a.handle ? "yes" : "no");

    s = vm_spawn(takes_a_stream, 0, 0, &a.handle, 1, false, 0);
    printf("spawn with it: %s, stream %u\n", vm_strerror(s), a.handle);
    printf("write on the moved stream: %s\n", vm_strerror(vm_tcp_write_all(a, "x", 1)));

    vm_tcp_stream_t c, d;
    connected_pair(listener, &c, &d);
    s = vm_send_handles(vm_self(), 1, 0, 0, &c.handle, 1);
    printf("send with it: %s, stream %u\n", vm_strerror(s), c.handle);
    s = vm_send_after_handles(vm_self(), 2, 0, 0, &d.handle, 1, 1, 0);
    printf("timer with it: %s, stream %u\n", vm_strerror(s), d.handle);
    vm_handle_t bogus = 0xdead;
    s = vm_send_handles(vm_self(), 3, 0, 0, &bogus, 1);
    printf("failed send: %s, handle kept %u\n", vm_strerror(s), bogus);

    s = vm_read_half_close(&br);
    vm_status_t again = vm_read_half_close(&br);
    printf("close a read half: %s, %u, then %s\n", vm_strerror(s), br.handle, vm_strerror(again));
    s = vm_tcp_listener_close(&listener);
    printf("close the listener: %s, %u, then accept: %s\n", vm_strerror(s), listener.handle,
           vm_strerror(vm_tcp_accept(listener, 0, &c)));
    vm_tcp_stream_t e = {r0};
    printf("close a stream not owned: %s, %u\n", vm_strerror(vm_tcp_close(&e)), e.handle);
}

static void exits_gone_fishing(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[64];
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_exit("gone fishing");
}

/* Holds the request it is sent until its next message (tag 2), then
 * answers it, late, and tells its spawner (tag 3). */
static void answers_late(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[64];
    vm_message_t m;
    uint64_t request_tag = 0, now = 2;
    if (vm_receive(&request_tag, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) vm_exit("no request");
    vm_reader_t r;
    vm_request_t req;
    vm_reader_init(&r, m.data, m.len);
    if (vm_get_request(&r, &req) != VM_OK) vm_exit("not a request");
    if (vm_receive(&now, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) vm_exit("no go");
    vm_reply(&req, "late", 4);
    vm_send(req.from, 3, "done", 4);
}

/* A request that gave up waiting forgets its reply: one that comes after
 * is dropped, not left for a later receive. */
static void late_reply(void) {
    vm_pid_t server;
    if (vm_spawn(answers_late, 0, 0, 0, 0, false, &server) != VM_OK) vm_exit("cannot spawn");
    uint8_t buf[32], reply_buf[64];
    vm_writer_t w;
    vm_request_begin(&w, buf, sizeof buf);
    vm_put_str(&w, "soon?");
    vm_message_t reply;
    vm_reason_t down;
    printf("a request that gives up: %s\n",
           vm_strerror(vm_request(server, &w, 20, reply_buf, sizeof reply_buf, &reply, &down)));
    vm_send(server, 2, "now", 3);
    uint64_t done = 3;
    vm_receive(&done, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, reply_buf, sizeof reply_buf, &reply);
    vm_status_t left = vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, 0, reply_buf, sizeof reply_buf, &reply);
    printf("its late reply left over: %s\n", left == VM_OK ? "yes" : "no");
}

static void request(void) {
    vm_pid_t server;
    if (vm_spawn(exits_gone_fishing, 0, 0, 0, 0, false, &server) != VM_OK) vm_exit("cannot spawn");
    uint8_t buf[32], reply_buf[64];
    vm_writer_t w;
    vm_request_begin(&w, buf, sizeof buf);
    vm_put_str(&w, "hello?");
    vm_message_t reply;
    vm_reason_t down;
    vm_status_t s = vm_request(server, &w, VM_FOREVER, reply_buf, sizeof reply_buf, &reply, &down);
    printf("request: %s, %s \"%.*s\" from the server: %s\n", vm_strerror(s), vm_exit_reason_name(down.kind),
           VM_STR_ARG(down.text), reply.envelope.sender == server ? "yes" : "no");
    report("its error", s);

    vm_writer_init(&w, buf, sizeof buf);
    vm_put_str(&w, "no header");
    report("not begun", vm_request(server, &w, VM_FOREVER, reply_buf, sizeof reply_buf, &reply, &down));
    vm_request_begin(&w, buf, 4);
    vm_put_str(&w, "too long for four bytes");
    report("overflowed", vm_request(server, &w, VM_FOREVER, reply_buf, sizeof reply_buf, &reply, &down));

    vm_reader_t r;
    vm_request_t req;
    vm_reader_init(&r, "\x80", 1);
    report("junk request", vm_get_request(&r, &req));
}

static void sockets(void) {
    vm_tcp_listener_t listener;
    if (vm_tcp_bind("127.0.0.1:0", &listener) != VM_OK) vm_exit("cannot bind");
    vm_tcp_stream_t a, b;
    connected_pair(listener, &a, &b);
    int64_t ms;
    bool on;
    vm_tcp_read_timeout(a, &ms);
    printf("read timeout at first: %lld\n", (long long)ms);
    printf("a 0 ms timeout: %s\n", vm_strerror(vm_tcp_set_read_timeout(a, 0)));
    vm_tcp_set_read_timeout(a, 30);
    vm_tcp_set_write_timeout(a, 40);
    size_t n;
    uint8_t buf[64];
    printf("read within the socket's timeout: %s\n", vm_strerror(vm_tcp_read(a, buf, sizeof buf, VM_FOREVER, &n)));
    printf("peek within it: %s\n", vm_strerror(vm_tcp_peek(a, buf, sizeof buf, VM_FOREVER, &n)));
    vm_tcp_nodelay(a, &on);
    printf("nodelay at first: %s\n", on ? "on" : "off");
    vm_tcp_set_nodelay(a, false);
    vm_read_half_t ar;
    vm_write_half_t aw;
    vm_tcp_split(&a, &ar, &aw);
    int64_t rt, wt;
    vm_read_half_timeout(ar, &rt);
    vm_write_half_timeout(aw, &wt);
    vm_write_half_nodelay(aw, &on);
    printf("halves: read %lld, write %lld, nodelay %s\n", (long long)rt, (long long)wt, on ? "on" : "off");
    vm_read_half_set_timeout(ar, VM_FOREVER);
    vm_write_half_set_nodelay(aw, true);
    vm_read_half_timeout(ar, &rt);
    vm_write_half_nodelay(aw, &on);
    printf("cleared: read %lld, nodelay %s\n", (long long)rt, on ? "on" : "off");

    vm_write_half_try_write(aw, "ab", 2, &n);
    vm_write_half_write(aw, "c", 1, 100, &n);
    size_t have = 0;
    while (have < 3 && vm_tcp_read(b, buf + have, 3 - have, VM_FOREVER, &n) == VM_OK && n > 0) have += n;
    printf("written by the write half: %.*s\n", (int)have, (const char *)buf);
    vm_tcp_write_all(b, "xy", 2);
    do vm_read_half_peek(ar, buf, 2, VM_FOREVER, &n);
    while (n < 2);
    size_t peeked = n;
    have = 0;
    while (have < 2 && vm_read_half_read(ar, buf + 8 + have, 2 - have, 1000, &n) == VM_OK && n > 0) have += n;
    printf("peeked on the read half: %.*s, then read %.*s\n", (int)peeked, (const char *)buf, (int)have,
           (const char *)buf + 8);
    vm_read_half_shutdown(ar);
    vm_tcp_shutdown(b, VM_SHUTDOWN_HOW_WRITE);

    char text[128];
    size_t len;
    vm_status_t s = vm_resolve("127.0.0.1:80", text, sizeof text, &len);
    printf("resolve: %s %zu \"%s\"\n", vm_strerror(s), len, text);
    s = vm_resolve("127.0.0.1:80", text, 4, &len);
    printf("resolve into 4 bytes: %s, needs %zu\n", vm_strerror(s), len);
    s = vm_resolve("example.com", text, sizeof text, &len);
    printf("resolve a name not granted: %s\n", vm_strerror(s));
}

static void reasons(void) {
    vm_semver_t v = vm_abi_version();
    printf("abi %u.%u\n", v.major, v.minor);
    uint8_t buf[16];
    vm_message_t m;
    vm_send(vm_self(), 0, "\x02oops", 5);
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_reason_t reason;
    report("a data message as a reason", vm_decode_exit_reason(&m, &reason));
    m.envelope.kind = VM_MESSAGE_KIND_DOWN;
    vm_status_t s = vm_decode_exit_reason(&m, &reason);
    printf("as a down: %s %s \"%.*s\"\n", vm_strerror(s), vm_exit_reason_name(reason.kind), VM_STR_ARG(reason.text));
    printf("names: %s %s %s %s %s %s\n", vm_exit_reason_name(0), vm_exit_reason_name(1), vm_exit_reason_name(2),
           vm_exit_reason_name(3), vm_exit_reason_name(4), vm_exit_reason_name(9));
    vm_pid_t fisher;
    if (vm_spawn(exits_gone_fishing, 0, 0, 0, 0, false, &fisher) != VM_OK) vm_exit("cannot spawn");
    uint64_t monitor = vm_monitor(fisher);
    vm_send(fisher, 0, "go", 2);
    s = vm_receive_down(monitor, VM_FOREVER, buf, 3, &m, &reason);
    printf("a down into 3 bytes: %s %s \"%.*s\", truncated %s\n", vm_strerror(s), vm_exit_reason_name(reason.kind),
           VM_STR_ARG(reason.text), m.truncated ? "yes" : "no");
    s = vm_receive_down(vm_monitor(999), VM_FOREVER, buf, sizeof buf, &m, &reason);
    printf("a process that never was: %s %s\n", vm_strerror(s), vm_exit_reason_name(reason.kind));
}

static void ends_at_once(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
}

/* Puts `*(const size_t *)v` bytes of 'x' as one byte string. */
static void put_many(vm_writer_t *w, const void *v) {
    size_t n = *(const size_t *)v;
    vm_put_len(w, n);
    for (size_t i = 0; i < n; i++) vm_put_u8(w, 'x');
}

static void native(void) {
    report("link to a process that never was", vm_link(999999));
    vm_pid_t gone;
    vm_spawn(ends_at_once, 0, 0, 0, 0, false, &gone);
    uint8_t buf[64];
    vm_message_t m;
    vm_reason_t reason;
    vm_receive_down(vm_monitor(gone), VM_FOREVER, buf, sizeof buf, &m, &reason);
    vm_status_t s = vm_link(gone);
    char why[256];
    vm_last_error(why, sizeof why);
    printf("link to one that ended: %s | %s\n", vm_strerror(s), strstr(why, "has ended") ? "has ended" : why);

    vm_message_kinds_t none = {0};
    report("receive with no kinds", vm_receive(0, 0, none, VM_FOREVER, buf, sizeof buf, &m));
    report("receive into NULL", vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, 0, NULL, 8, &m));
    report("send NULL", vm_send(vm_self(), 0, NULL, 5));

    vm_tcp_listener_t listener;
    if (vm_tcp_bind("127.0.0.1:0", &listener) != VM_OK) vm_exit("cannot bind");
    vm_tcp_stream_t a, b;
    connected_pair(listener, &a, &b);
    size_t n = 1;
    s = vm_tcp_write(a, NULL, 5, VM_FOREVER, &n);
    vm_last_error(why, sizeof why);
    printf("write NULL: %s, wrote %u | %s\n", vm_strerror(s), (unsigned)n, why);

    /* A read half sent to itself, asked for as a write half, then as what it is. */
    vm_read_half_t r;
    vm_write_half_t w;
    vm_tcp_split(&a, &r, &w);
    vm_send_handles(vm_self(), 7, "h", 1, &r.handle, 1);
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_write_half_t wrong = {0};
    report("take a read half as a write half", vm_take_write_half(0, &wrong));
    s = vm_take_read_half(0, &r);
    printf("then as a read half: %s, set %s, wrong one still 0: %s\n", vm_strerror(s), r.handle ? "yes" : "no",
           wrong.handle == 0 ? "yes" : "no");

    /* A message whose handle is not taken before the next receive. */
    vm_send_handles(vm_self(), 8, "h", 1, &w.handle, 1);
    vm_send(vm_self(), 9, "plain", 5);
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_write_half_t late;
    report("take after the next receive", vm_take_write_half(0, &late));

    /* A generated decoder's failure explains itself, as the SDK's do. */
    vm_message_t cut = {0};
    cut.truncated = true;
    ping_pong_ball_t ball;
    report("a generated decode of a truncated message", ping_pong_ball_decode_message(&cut, 0, &ball));

    /* Larger than the generated sends' stack buffer: sent from the heap. */
    size_t many = 3 * VM_SEND_STACK;
    s = vm_send_encoded(vm_self(), 10, put_many, &many);
    static uint8_t big[4 * VM_SEND_STACK];
    uint64_t ten = 10;
    vm_receive(&ten, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, big, sizeof big, &m);
    vm_reader_t rd;
    vm_reader_init_message(&rd, &m);
    const uint8_t *bytes;
    size_t got = vm_get_bytes(&rd, &bytes);
    printf("a message of %u bytes: %s, %u arrived, whole %s\n", (unsigned)many, vm_strerror(s), (unsigned)got,
           vm_reader_finish(&rd) == VM_OK ? "yes" : "no");
}

static void writes_a_line(const uint8_t *capture, size_t len) {
    vm_pid_t root;
    memcpy(&root, capture, len < sizeof root ? len : sizeof root);
    fprintf(stderr, "child: a whole line\n");
    vm_send(root, 0, "", 0);
}

static void lines(void) {
    fprintf(stderr, "root: begun, ");
    vm_pid_t self = vm_self();
    vm_spawn(writes_a_line, &self, sizeof self, 0, 0, false, 0);
    uint8_t buf[8];
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    fprintf(stderr, "and ended\n");
}

static void statuses(void) {
    for (vm_status_t s = 0; s <= 20; s++) printf("%d %s\n", s, vm_strerror(s));
    for (vm_status_t s = 1000; s <= 1010; s++) printf("%d %s\n", s, vm_strerror(s));
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "flush") == 0) {
        printf("no newline before vm_exit");
        vm_exit("");
    }
    if (strcmp(mode, "huge-delay") == 0) {
        uint64_t huge = vm_send_after(vm_self(), 1, "h", 1, 1ull << 63);
        vm_send_after(vm_self(), 2, "s", 1, 10);
        uint64_t sentinel_tag = 2;
        uint8_t buf[8];
        vm_message_t m;
        if (vm_receive(&sentinel_tag, 1, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) return 1;
        printf("the huge timer was still pending: %s\n", vm_cancel_timer(huge) ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "assert") == 0) {
        int answer = 41;
        printf("asserting\n");
        VM_ASSERT(answer == 42);
        return 0;
    }
    if (strcmp(mode, "c-assert") == 0) {
        int answer = 41;
        printf("asserting\n");
        assert(answer == 42);
        return 0;
    }
    if (strcmp(mode, "abort") == 0) {
        printf("aborting\n");
        abort();
    }
    if (strcmp(mode, "overflow") == 0) {
        /* 72 KiB deep: past the 64 KiB stack, not past the data below it. */
        printf("%u\n", recurse(global_canary[0], 72));
        printf("the data survived: %s\n", global_canary[0] == 1 ? "yes" : "no");
        return 0;
    }
    static const struct {
        const char *name;
        void (*run)(void);
    } modes[] = {{"errors", errors},   {"moved", moved},     {"request", request},
                 {"sockets", sockets}, {"reasons", reasons}, {"late-reply", late_reply},
                 {"native", native},   {"statuses", statuses}, {"lines", lines}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(mode, modes[i].name) == 0) {
            modes[i].run();
            return 0;
        }
    }
    fprintf(stderr, "edges: unknown mode `%s`\n", mode);
    return 64;
}
