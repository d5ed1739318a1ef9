/* Decodes each message as an `everything` (everything.wit, through the
 * generated everything.h) and replies with its encoding, tagged as the
 * request was; a message that does not decode gets an empty reply tagged 0.
 * The Rust polyglot guest sends it postcard's bytes for random values and
 * malformed ones (tests/tests/cross_language.rs). */
#include <vm.h>

#include "everything.h"

static uint8_t in[16384];
static uint8_t out[16384];
static uint8_t lists[65536];

__attribute__((export_name("serve_everything"))) void serve_everything(void) {
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, in, sizeof in, &m);
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, in, sizeof in, &m) == VM_OK) {
        vm_arena_t arena;
        vm_arena_init(&arena, lists, sizeof lists);
        everything_everything_t value;
        size_t len;
        if (everything_everything_decode_message(&m, &arena, &value) != VM_OK ||
            everything_everything_encode(&value, out, sizeof out, &len) != VM_OK) {
            vm_send(m.envelope.sender, 0, "", 0);
            continue;
        }
        vm_send(m.envelope.sender, m.envelope.tag, out, len);
    }
}

int main(void) { return 0; }
