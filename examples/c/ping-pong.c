/* Two processes hit a typed ball back and forth: `vm run ping-pong.wasm -- 5`.
 *
 * The ball's type comes from examples/messages.wit: `vm bindgen
 * messages.wit --lang c` generated messages.h (ping_pong_ball_t, with ping_pong_ball_send and
 * ping_pong_ball_decode_message), and the Rust and AssemblyScript ping-pong examples
 * use types generated from the same file, so players in different
 * languages understand each other. */
#include <stdio.h>
#include <stdlib.h>
#include <vm.h>

#include "messages.h"

static void pong(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    uint8_t buf[32];
    vm_message_t m;
    ping_pong_ball_t ball;
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) == VM_OK) {
        if (ping_pong_ball_decode_message(&m, 0, &ball) != VM_OK || ball.kind != PING_PONG_BALL_PING) continue;
        printf("pong: got ping %u\n", ball.as.ping.n);
        ping_pong_ball_t reply;
        reply.kind = PING_PONG_BALL_PONG;
        reply.as.pong.n = ball.as.ping.n;
        ping_pong_ball_send(ball.as.ping.reply_to, 0, &reply);
    }
}

int main(int argc, char **argv) {
    uint32_t rounds = argc > 1 ? (uint32_t)atoi(argv[1]) : 3;
    vm_pid_t other;
    vm_status_t s = vm_spawn(pong, 0, 0, 0, 0, false, &other);
    if (s != VM_OK) {
        fprintf(stderr, "spawn failed: %s\n", vm_strerror(s));
        return 1;
    }
    uint8_t buf[32];
    for (uint32_t i = 1; i <= rounds; i++) {
        ping_pong_ball_t ping;
        ping.kind = PING_PONG_BALL_PING;
        ping.as.ping.n = i;
        ping.as.ping.reply_to = vm_self();
        ping_pong_ball_send(other, 0, &ping);
        vm_message_t m;
        ping_pong_ball_t ball;
        if (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK ||
            ping_pong_ball_decode_message(&m, 0, &ball) != VM_OK || ball.kind != PING_PONG_BALL_PONG) {
            fprintf(stderr, "expected a pong\n");
            return 1;
        }
        printf("ping: got pong %u\n", ball.as.pong.n);
    }
    printf("done: %u round trips between processes %llu and %llu\n", rounds, (unsigned long long)vm_self(),
           (unsigned long long)other);
    return 0;
}
