/* The smallest app: the root process spawns a greeter and waits for it. */
#include <stdio.h>
#include <string.h>
#include <vm.h>

static void greeter(const uint8_t *capture, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, capture, len);
    const char *name;
    size_t name_len = vm_get_str(&r, &name);
    vm_pid_t parent = vm_get_u64(&r);
    printf("hello, %.*s, from process %llu\n", (int)name_len, name, (unsigned long long)vm_self());
    vm_send(parent, 0, "", 0);
}

int main(void) {
    printf("hello from the root process %llu\n", (unsigned long long)vm_self());
    uint8_t buf[64];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_str(&w, "world");
    vm_put_u64(&w, vm_self());
    vm_pid_t child;
    if (vm_spawn(greeter, w.data, w.len, 0, 0, false, &child) != VM_OK) return 1;
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    printf("goodbye\n");
    return 0;
}
