/* A new app for the vm:host VM. Build and run it with
 *     ./build.sh && vm run {{name}}.wasm -- world
 * Its message types are in messages.wit; messages.h is generated from it
 * (`vm bindgen messages.wit --lang c --out .`). */
#include <stdio.h>
#include <vm.h>

#include "messages.h"

/* A spawned process: greets the name in its capture (a messages_greet_t), replying
 * to the process the capture names. */
static void greeter(const uint8_t *capture, size_t len) {
    messages_greet_t greet;
    if (messages_greet_decode(capture, len, 0, &greet) != VM_OK) vm_exit("a malformed capture");
    char greeting[128];
    int g = snprintf(greeting, sizeof greeting, "hello, " VM_STR_FMT "!", VM_STR_ARG(greet.name));
    /* snprintf returns the length it wanted: a long name is cut to fit. */
    size_t cut = g < 0 ? 0 : (size_t)g < sizeof greeting ? (size_t)g : sizeof greeting - 1;
    vm_send(greet.reply_to, 0, greeting, cut);
}

int main(int argc, char **argv) {
    messages_greet_t greet;
    greet.name = vm_str(argc > 1 ? argv[1] : "world");
    greet.reply_to = vm_self();
    uint8_t buf[256];
    size_t len;
    vm_status_t s = messages_greet_encode(&greet, buf, sizeof buf, &len);
    if (s == VM_OK) s = vm_spawn(greeter, buf, len, 0, 0, false, 0);
    if (s != VM_OK) {
        fprintf(stderr, "cannot start the greeter: %s\n", vm_strerror(s));
        return 1;
    }
    vm_message_t m;
    if (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) return 1;
    printf("%.*s\n", (int)m.len, (const char *)m.data);
    return 0;
}
