/* Two processes hit a typed ball back and forth: `vm run ping-pong.wasm -- 5`.
 *
 * The ball is encoded exactly like the Rust example's
 *     enum Ball { Ping { n: u32, reply_to: Process<Ball> }, Pong { n: u32 } }
 * so a C process and a Rust process can play together. */
#include <stdio.h>
#include <stdlib.h>
#include <vm.h>

enum { PING = 0, PONG = 1 };

typedef struct ball {
    uint32_t kind;
    uint32_t n;
    vm_pid_t reply_to; /* for PING */
} ball_t;

static size_t encode(const ball_t *b, uint8_t *buf, size_t cap) {
    vm_writer_t w;
    vm_writer_init(&w, buf, cap);
    vm_put_variant(&w, b->kind);
    vm_put_u64(&w, b->n);
    if (b->kind == PING) vm_put_u64(&w, b->reply_to);
    return w.len;
}

static vm_status_t decode(const vm_message_t *m, ball_t *b) {
    vm_reader_t r;
    vm_reader_init_message(&r, m);
    b->kind = vm_get_variant(&r);
    b->n = vm_get_u32(&r);
    if (b->kind == PING) b->reply_to = vm_get_u64(&r);
    else if (b->kind != PONG) return VM_E_DECODE;
    return vm_reader_finish(&r);
}

static void pong(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[32];
    vm_message_t m;
    ball_t b;
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) == VM_OK) {
        if (decode(&m, &b) != VM_OK || b.kind != PING) continue;
        printf("pong: got ping %u\n", b.n);
        ball_t reply = {PONG, b.n, 0};
        size_t n = encode(&reply, buf, sizeof buf);
        vm_send(b.reply_to, 0, buf, n);
    }
}

int main(int argc, char **argv) {
    /* Line-buffered, so lines from both processes appear in the order printed. */
    setvbuf(stdout, 0, _IOLBF, 0);
    uint32_t rounds = argc > 1 ? (uint32_t)atoi(argv[1]) : 3;
    vm_pid_t other;
    if (vm_spawn(pong, 0, 0, 0, 0, false, &other) != VM_OK) return 1;
    uint8_t buf[32];
    for (uint32_t i = 1; i <= rounds; i++) {
        ball_t ping = {PING, i, vm_self()};
        vm_send(other, 0, buf, encode(&ping, buf, sizeof buf));
        vm_message_t m;
        ball_t b;
        if (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK || decode(&m, &b) != VM_OK ||
            b.kind != PONG) {
            fprintf(stderr, "expected a pong\n");
            return 1;
        }
        printf("ping: got pong %u\n", b.n);
    }
    printf("done: %u round trips between processes %llu and %llu\n", rounds, (unsigned long long)vm_self(),
           (unsigned long long)other);
    return 0;
}
