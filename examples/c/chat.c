/* A chat room over TCP, built from split streams: examples/rust/chat in C.
 *
 *     vm run --allow-net 127.0.0.1 chat.wasm -- 127.0.0.1:7000
 *
 * (port 0 picks a free port). The first line printed is the bound address.
 *
 * The protocol is the Rust example's: a client's first line is its name, and
 * each later line goes to every other client as "NAME: TEXT\n". A line ends
 * with "\n" (a "\r" before it is dropped) and may arrive in any number of
 * pieces; a line the client's disconnect cuts off is dropped. Nothing
 * announces arrivals or departures.
 *
 * Processes, one room and two per client:
 * - the acceptor (the root) accepts connections and splits each stream: it
 *   spawns a writer owning the write half, tells the room it joined, then
 *   spawns a reader owning the read half;
 * - the reader links itself to its writer, reads lines, and sends them to
 *   the room (typed messages: chat.wit, from which `vm bindgen` generated
 *   chat.h);
 * - the writer writes to its client what the room sends it;
 * - the room keeps the writers and passes each line on to all but the
 *   speaker. It monitors each writer: a writer's down message, whatever
 *   ended it, removes its member (the room says so on stderr).
 * Reader and writer are linked, so when either ends with a reason the other
 * ends too, and the socket closes (it closes once both halves are gone): a
 * reader at end-of-stream or on a read error ends with "disconnected" (a
 * normal end would leave the writer alive, holding the socket half-open in
 * CLOSE-WAIT); a writer whose write fails ends with "write failed: STATUS";
 * a writer that crashes (past its mailbox bound, say, behind a client that
 * stopped reading) takes its reader with it.
 *
 * Limits: a line, the name included, may hold CHAT_MAX_LINE (4,096) bytes
 * before its "\n" (a "\r" counts), and must be UTF-8, as the messages'
 * strings are. Nothing is cut short: a client that sends a longer line, or
 * one that is not UTF-8, is told why in a last line starting with "* " and
 * disconnected. (The Rust example reads lines of any length, and
 * disconnects a client whose line is not UTF-8 without a word.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vm.h>

#include "chat.h"

/* The longest line a client may send, in bytes before its "\n". */
#define CHAT_MAX_LINE 4096
/* The largest message the room takes: a say of two longest lines (name and
 * text) with room to spare for the variant, the writer and the lengths. */
#define ROOM_MESSAGE_MAX (2 * CHAT_MAX_LINE + 32)
/* The largest line the room sends, "NAME: TEXT\n", and its message. */
#define OUT_LINE_MAX (ROOM_MESSAGE_MAX + 3)
#define OUTGOING_MAX (OUT_LINE_MAX + 16)
/* How long a reader that hung up waits for its writer to write the last
 * line and end (ending the reader through their link) before it ends
 * itself, taking the writer with it. */
#define HANG_UP_WAIT_MS 5000

#define STRINGIFY(x) STRINGIFY_(x)
#define STRINGIFY_(x) #x
/* The last lines of a client hung up on. */
#define TOO_LONG_NOTICE "* line too long (the limit is " STRINGIFY(CHAT_MAX_LINE) " bytes); bye\n"
#define NOT_UTF8_NOTICE "* that line is not UTF-8; bye\n"

/* Ends this process with "WHAT: STATUS" as its reason, after saying on
 * stderr what went wrong: for failures that should not happen. */
static VM_NORETURN void die(const char *what, vm_status_t s) {
    char why[256];
    vm_last_error(why, sizeof why);
    fprintf(stderr, "chat: %s: %s (%s)\n", what, vm_strerror(s), why);
    char reason[128];
    snprintf(reason, sizeof reason, "%s: %s", what, vm_strerror(s));
    vm_exit(reason);
}

/* ---- the room ---- */

struct member {
    vm_pid_t writer;
    uint64_t monitor;
};

static struct member *members;
static size_t member_count, member_cap;

static void join(vm_pid_t writer) {
    if (member_count == member_cap) {
        size_t cap = member_cap ? 2 * member_cap : 16;
        struct member *grown = realloc(members, cap * sizeof *grown);
        if (!grown) {
            /* Better no client than one that hears nothing. */
            fprintf(stderr, "chat: no memory for client %llu; sending it away\n", (unsigned long long)writer);
            vm_send_exit(writer, "room full");
            return;
        }
        members = grown;
        member_cap = cap;
    }
    /* A writer that has ended already gets a down at once (noproc). */
    members[member_count].writer = writer;
    members[member_count].monitor = vm_monitor(writer);
    member_count++;
}

/* A writer's down message: its member goes. */
static void leave(const vm_message_t *down) {
    for (size_t i = 0; i < member_count; i++) {
        if (members[i].monitor != down->envelope.tag) continue;
        vm_reason_t why;
        if (vm_decode_exit_reason(down, &why) != VM_OK) why = (vm_reason_t){VM_EXIT_REASON_NORMAL, vm_str("")};
        fprintf(stderr, "chat: client %llu left (%s%s" VM_STR_FMT ")\n", (unsigned long long)members[i].writer,
                vm_exit_reason_name(why.kind), why.text.len ? ": " : "", VM_STR_ARG(why.text));
        members[i] = members[--member_count];
        return;
    }
}

static void broadcast(const chat_say_t *say) {
    /* The message the say came in held both strings, so the line fits. */
    static char line[OUT_LINE_MAX];
    static uint8_t encoded[OUTGOING_MAX];
    VM_ASSERT(say->name.len + say->text.len + 3 <= sizeof line);
    /* memcpy, not printf: a line may hold NUL bytes. */
    size_t n = 0;
    memcpy(line + n, say->name.ptr, say->name.len);
    n += say->name.len;
    memcpy(line + n, ": ", 2);
    n += 2;
    memcpy(line + n, say->text.ptr, say->text.len);
    n += say->text.len;
    line[n++] = '\n';

    /* Encoded once, sent to each. */
    chat_outgoing_t out = {.kind = CHAT_OUTGOING_LINE, .as.line = {line, n}};
    size_t len;
    vm_status_t s = chat_outgoing_encode(&out, encoded, sizeof encoded, &len);
    VM_ASSERT(s == VM_OK);
    for (size_t i = 0; i < member_count; i++) {
        if (members[i].writer == say->writer) continue;
        /* A line the VM cannot take (past its memory bound) would leave a
         * gap in this client's conversation: it goes instead, and its down
         * removes it. */
        if (vm_send(members[i].writer, 0, encoded, len) != VM_OK) vm_send_exit(members[i].writer, "missed a line");
    }
}

static void room(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    static uint8_t buf[ROOM_MESSAGE_MAX];
    for (;;) {
        vm_message_t m;
        vm_status_t s = vm_receive(0, 0, VM_MESSAGE_KINDS(DATA, DOWN), VM_FOREVER, buf, sizeof buf, &m);
        if (s != VM_OK) die("room: receive", s);
        if (m.envelope.kind == VM_MESSAGE_KIND_DOWN) {
            leave(&m);
            continue;
        }
        chat_room_t msg;
        s = chat_room_decode_message(&m, 0, &msg);
        if (s != VM_OK) {
            fprintf(stderr, "chat: room: ignoring a message of %u bytes from %llu (%s)\n", m.envelope.size,
                    (unsigned long long)m.envelope.sender, vm_strerror(s));
            continue;
        }
        switch (msg.kind) {
        case CHAT_ROOM_JOIN: join(msg.as.join.writer); break;
        case CHAT_ROOM_SAY: broadcast(&msg.as.say); break;
        }
    }
}

/* ---- a client's writer ---- */

static void writer(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    vm_write_half_t half;
    vm_status_t s = vm_take_write_half(0, &half);
    if (s != VM_OK) die("writer: taking the write half", s);
    static uint8_t buf[OUTGOING_MAX];
    for (;;) {
        vm_message_t m;
        s = vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
        if (s != VM_OK) die("writer: receive", s);
        chat_outgoing_t out;
        s = chat_outgoing_decode_message(&m, 0, &out);
        if (s != VM_OK) {
            fprintf(stderr, "chat: writer: ignoring a message of %u bytes from %llu (%s)\n", m.envelope.size,
                    (unsigned long long)m.envelope.sender, vm_strerror(s));
            continue;
        }
        vm_str_t text = out.kind == CHAT_OUTGOING_LINE ? out.as.line : out.as.hang_up;
        s = vm_write_half_write_all(half, text.ptr, text.len);
        if (s != VM_OK) {
            /* The client is gone: an ordinary end, but not a normal one,
             * so that the link takes the reader too. */
            char reason[64];
            snprintf(reason, sizeof reason, "write failed: %s", vm_strerror(s));
            vm_exit(reason);
        }
        if (out.kind == CHAT_OUTGOING_HANG_UP) vm_exit("hung up");
    }
}

/* ---- a client's reader ---- */

/* What the acceptor gives a reader (a copy of this struct: the same module
 * reads it, so its layout is shared). */
struct reader_args {
    vm_pid_t room;
    vm_pid_t writer;
};

/* Ends this client's connection with a last line saying why: the writer
 * writes `notice` after the lines it has queued, then ends, and the link
 * ends this reader too. */
static VM_NORETURN void hang_up(vm_pid_t writer, const char *reason, const char *notice) {
    chat_outgoing_t bye = {.kind = CHAT_OUTGOING_HANG_UP, .as.hang_up = vm_str(notice)};
    /* Waits for the writer to end once the notice is out: its exit signal
     * through the link ends this process (or its down arrives); a writer
     * stuck behind a client that does not read is given HANG_UP_WAIT_MS. */
    if (chat_outgoing_send(writer, 0, &bye) == VM_OK) {
        uint8_t buf[64];
        vm_message_t m;
        vm_reason_t why;
        (void)vm_receive_down(vm_monitor(writer), HANG_UP_WAIT_MS, buf, sizeof buf, &m, &why);
    }
    vm_exit(reason);
}

static void reader(const uint8_t *capture, size_t len) {
    struct reader_args args;
    if (len != sizeof args) vm_panic("reader: a capture that is not a struct reader_args");
    memcpy(&args, capture, sizeof args);
    /* Linked before anything else, so that from here on the two end
     * together. A writer that has ended already (its client went at once)
     * leaves nothing to do. */
    if (vm_link(args.writer) != VM_OK) vm_exit("disconnected");
    vm_read_half_t half;
    vm_status_t s = vm_take_read_half(0, &half);
    if (s != VM_OK) die("reader: taking the read half", s);

    /* buf[0..have) is the start of a line whose "\n" has not come yet. */
    static uint8_t buf[CHAT_MAX_LINE + 1];
    static char name[CHAT_MAX_LINE];
    size_t have = 0, name_len = 0;
    bool named = false;
    for (;;) {
        if (have == sizeof buf) hang_up(args.writer, "line too long", TOO_LONG_NOTICE);
        size_t n;
        s = vm_read_half_read(half, buf + have, sizeof buf - have, VM_FOREVER, &n);
        /* End of stream or a read error (a reset, say): not a normal end,
         * so that the link takes the writer too. */
        if (s != VM_OK || n == 0) vm_exit("disconnected");

        size_t start = 0, scanned = have;
        have += n;
        const uint8_t *nl;
        while ((nl = memchr(buf + scanned, '\n', have - scanned)) != NULL) {
            size_t end = (size_t)(nl - buf), line_len = end - start;
            const uint8_t *line = buf + start;
            while (line_len > 0 && line[line_len - 1] == '\r') line_len--;
            if (!vm_utf8_valid(line, line_len)) hang_up(args.writer, "not UTF-8", NOT_UTF8_NOTICE);
            if (!named) {
                memcpy(name, line, line_len);
                name_len = line_len;
                named = true;
            } else {
                chat_room_t say = {.kind = CHAT_ROOM_SAY,
                                   .as.say = {.writer = args.writer,
                                              .name = {name, name_len},
                                              .text = {(const char *)line, line_len}}};
                s = chat_room_send(args.room, 0, &say);
                if (s != VM_OK) die("reader: sending to the room", s);
            }
            start = scanned = end + 1;
        }
        /* Keep the unended line, at the front. */
        have -= start;
        memmove(buf, buf + start, have);
    }
}

/* ---- the acceptor ---- */

/* Gives a new connection its writer, its place in the room and its reader.
 * Whatever fails, nothing is left holding half of the socket. */
static void admit(vm_pid_t room_pid, vm_tcp_stream_t *stream) {
    vm_read_half_t read_half;
    vm_write_half_t write_half;
    vm_status_t s = vm_tcp_split(stream, &read_half, &write_half);
    if (s != VM_OK) {
        fprintf(stderr, "chat: cannot split a connection (%s); closing it\n", vm_strerror(s));
        vm_tcp_close(stream);
        return;
    }
    /* At --max-processes a spawn is refused (limit-reached) and the half
     * stays ours. */
    vm_pid_t writer_pid;
    s = vm_spawn(writer, 0, 0, &write_half.handle, 1, false, &writer_pid);
    if (s != VM_OK) {
        fprintf(stderr, "chat: no process for a connection (%s); closing it\n", vm_strerror(s));
        vm_read_half_close(&read_half);
        vm_write_half_close(&write_half);
        return;
    }
    /* Joined before its reader exists, so its first line finds it a member. */
    chat_room_t joined = {.kind = CHAT_ROOM_JOIN, .as.join = {.writer = writer_pid}};
    s = chat_room_send(room_pid, 0, &joined);
    if (s == VM_OK) {
        struct reader_args args = {.room = room_pid, .writer = writer_pid};
        s = vm_spawn(reader, &args, sizeof args, &read_half.handle, 1, false, 0);
    }
    if (s != VM_OK) {
        fprintf(stderr, "chat: no reader for a connection (%s); closing it\n", vm_strerror(s));
        vm_read_half_close(&read_half);
        /* Its down takes it out of the room. */
        vm_send_exit(writer_pid, "no reader");
    }
}

int main(int argc, char **argv) {
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:0";
    vm_tcp_listener_t listener;
    vm_status_t s = vm_tcp_bind(address, &listener);
    if (s != VM_OK) {
        char why[256];
        vm_last_error(why, sizeof why);
        fprintf(stderr, "chat: cannot listen on %s: %s: %s\n", address, vm_strerror(s), why);
        return 1;
    }
    char bound[64];
    s = vm_tcp_listener_local_address(listener, bound, sizeof bound);
    if (s != VM_OK) die("the listener's address", s);
    /* Linked: a room that crashes takes the server down with it rather
     * than leaving it accepting clients into no room. */
    vm_pid_t room_pid;
    s = vm_spawn(room, 0, 0, 0, 0, true, &room_pid);
    if (s != VM_OK) die("spawning the room", s);
    /* Once there is a room to join. No fflush: stdout is line-buffered in
     * every process, so the line is out before the first accept waits. */
    printf("listening on %s\n", bound);
    for (;;) {
        vm_tcp_stream_t stream;
        s = vm_tcp_accept(listener, VM_FOREVER, &stream);
        if (s == VM_E_INVALID_HANDLE) die("accept", s);
        if (s != VM_OK) {
            /* Past --max-sockets, say: this connection is closed, the next
             * may fit. */
            fprintf(stderr, "chat: accept failed (%s)\n", vm_strerror(s));
            continue;
        }
        admit(room_pid, &stream);
    }
}
