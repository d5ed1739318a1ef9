/* Built with --target=wasm32 and no libc: spawns a process, exchanges a
 * postcard-encoded message with it, receives a message larger than its
 * buffer in two parts, and exits normally only if everything is what it
 * expects (the test checks the exit reason). */
#include <vm.h>

static void doubler(const uint8_t *capture, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, capture, len);
    vm_pid_t parent = vm_get_u64(&r);
    uint8_t buf[16];
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_reader_init(&r, m.data, m.len);
    uint32_t n = vm_get_u32(&r);
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, n * 2);
    vm_send(parent, 0, w.data, w.len);
}

__attribute__((export_name("_start"))) void _start(void) {
    uint8_t buf[16];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, vm_self());
    vm_pid_t child;
    if (vm_spawn(doubler, w.data, w.len, 0, 0, false, &child) != VM_OK) vm_exit("spawn failed");
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, 21);
    vm_send(child, 0, w.data, w.len);
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    vm_reader_t r;
    vm_reader_init(&r, m.data, m.len);
    uint32_t answer = vm_get_u32(&r);
    if (vm_reader_finish(&r) != VM_OK || answer != 42) vm_exit("wrong answer");

    uint8_t sent[20];
    for (int i = 0; i < 20; i++) sent[i] = (uint8_t)(i + 1);
    vm_send(vm_self(), 0, sent, sizeof sent);
    uint8_t head[8], rest[16];
    if (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, head, sizeof head, &m) != VM_OK || !m.truncated)
        vm_exit("a message larger than the buffer was not received as truncated");
    if (m.len != 8 || m.envelope.size != 20) vm_exit("wrong sizes for a message larger than the buffer");
    vm_reader_t whole;
    vm_reader_init_message(&whole, &m);
    if (vm_reader_status(&whole) == VM_OK) vm_exit("a truncated message's reader is not in error");
    size_t got;
    if (vm_read(rest, sizeof rest, &got) != VM_OK || got != 12) vm_exit("vm_read did not return the rest");
    if (vm_read(rest, sizeof rest, &got) != VM_OK || got != 0) vm_exit("vm_read did not report the end");
    if (vm_read((void *)(uintptr_t)0xfffffff0u, 64, &got) != VM_E_OUT_OF_BOUNDS)
        vm_exit("vm_read into a buffer outside memory was not an error");
    for (int i = 0; i < 20; i++)
        if ((i < 8 ? head[i] : rest[i - 8]) != sent[i]) vm_exit("the two parts differ from what was sent");

    /* A writer that overflows counts on, and is refused by vm_send_writer. */
    uint8_t small[4];
    vm_writer_t big;
    vm_writer_init(&big, small, sizeof small);
    vm_put_str(&big, "hello world");
    if (vm_writer_status(&big) != VM_E_BUFFER_TOO_SMALL || big.needed != 12) vm_exit("the writer stopped counting");
    if (vm_send_writer(vm_self(), 9, &big) != VM_E_BUFFER_TOO_SMALL) vm_exit("an overflowed writer was sent");
    uint8_t enough[12];
    vm_writer_init(&big, enough, big.needed);
    vm_put_str(&big, "hello world");
    if (vm_send_writer(vm_self(), 9, &big) != VM_OK) vm_exit("a writer of the needed size was refused");
    uint64_t nine = 9;
    if (vm_receive(&nine, 1, VM_MESSAGE_KINDS_DATA, 0, head, sizeof head, &m) != VM_OK || m.envelope.size != 12)
        vm_exit("the retried message did not arrive whole");

    /* A receive loop goes on past an oversized message, and one can be read
     * whole into a larger buffer. */
    vm_send(vm_self(), 1, sent, sizeof sent);
    vm_send(vm_self(), 2, sent, 4);
    vm_send(vm_self(), 3, sent, sizeof sent);
    int seen = 0;
    while (seen < 3 && vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, 0, head, sizeof head, &m) == VM_OK) {
        seen++;
        if (m.envelope.tag == 3) {
            uint8_t whole_buf[32];
            if (vm_receive_rest(&m, whole_buf, 8) != VM_E_BUFFER_TOO_SMALL) vm_exit("vm_receive_rest ignored cap");
            if (vm_receive_rest(&m, whole_buf, sizeof whole_buf) != VM_OK || m.len != 20 || m.truncated)
                vm_exit("vm_receive_rest did not read the message whole");
            for (int i = 0; i < 20; i++)
                if (m.data[i] != sent[i]) vm_exit("vm_receive_rest's bytes differ from what was sent");
        }
    }
    if (seen != 3) vm_exit("the receive loop stopped at an oversized message");
    vm_exit("");
}
