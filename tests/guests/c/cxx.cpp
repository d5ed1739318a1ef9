// vm.h from C++17 (built with -Wall -Wextra -Wpedantic -Werror): a process
// messages itself and prints what came back.
#include <stdio.h>
#include <vm.h>

int main() {
    uint8_t buf[16];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, 2026);
    if (vm_writer_status(&w) != VM_OK || vm_send(vm_self(), 7, w.data, w.len) != VM_OK) return 1;
    vm_message_t m;
    if (vm_receive(nullptr, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m) != VM_OK) return 1;
    vm_reader_t r;
    vm_reader_init_message(&r, &m);
    uint32_t n = vm_get_u32(&r);
    if (vm_reader_finish(&r) != VM_OK) return 1;
    printf("c++ got %u with tag %llu\n", n, static_cast<unsigned long long>(m.envelope.tag));
    return 0;
}
