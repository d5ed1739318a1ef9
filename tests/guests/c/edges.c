/* Edge cases of the C SDK, one per mode (argv[1]); the test pins each
 * outcome:
 *   flush:      printf without a newline, then vm_exit: the text is not lost.
 *   huge-delay: a timer set for 2^63 ms has not fired by the time a 10 ms
 *               timer has (a wrapped delay would fire at once).
 *   overflow:   recursing past the stack traps (the stack lies below the
 *               data, so it runs off address 0 rather than over globals).
 */
#include <stdio.h>
#include <string.h>
#include <vm.h>

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
    if (strcmp(mode, "overflow") == 0) {
        /* 72 KiB deep: past the 64 KiB stack, not past the data below it. */
        printf("%u\n", recurse(global_canary[0], 72));
        printf("the data survived: %s\n", global_canary[0] == 1 ? "yes" : "no");
        return 0;
    }
    fprintf(stderr, "edges: unknown mode `%s`\n", mode);
    return 64;
}
