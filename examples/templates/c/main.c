/* A new app for the vm:host VM. Build and run it with
 *     ./build.sh && vm run {{name}}.wasm -- world */
#include <stdio.h>
#include <vm.h>

/* A spawned process: greets the name in its capture, replies to its parent. */
static void greeter(const uint8_t *capture, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, capture, len);
    const char *name;
    size_t n = vm_get_str(&r, &name);
    vm_pid_t parent = vm_get_u64(&r);
    if (vm_reader_finish(&r) != VM_OK) vm_exit("a malformed capture");
    char greeting[128];
    int g = snprintf(greeting, sizeof greeting, "hello, %.*s!", (int)n, name);
    /* snprintf returns the length it wanted: a long name is cut to fit. */
    size_t cut = g < 0 ? 0 : (size_t)g < sizeof greeting ? (size_t)g : sizeof greeting - 1;
    vm_send(parent, 0, greeting, cut);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "world";
    uint8_t buf[256];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_str(&w, name);
    vm_put_u64(&w, vm_self());
    if (vm_writer_status(&w) != VM_OK || vm_spawn(greeter, w.data, w.len, 0, 0, false, 0) != VM_OK) return 1;
    vm_message_t m;
    if (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) return 1;
    printf("%.*s\n", (int)m.len, (const char *)m.data);
    return 0;
}
