/* A TCP echo server with one process per connection:
 *     vm run --allow-net 127.0.0.1 echo-server.wasm -- 127.0.0.1:7000
 * (port 0 picks a free port). The first line printed is the bound address. */
#include <stdio.h>
#include <vm.h>

static void echo(const uint8_t *capture, size_t len) {
    (void)capture;
    (void)len;
    vm_tcp_stream_t stream;
    /* The stream moved here with the spawn; take it before any receive. */
    if (vm_take_handle(0, &stream.handle) != VM_OK) return;
    static uint8_t buf[16 * 1024];
    size_t n;
    while (vm_tcp_read(stream, buf, sizeof buf, VM_FOREVER, &n) == VM_OK && n > 0) {
        if (vm_tcp_write_all(stream, buf, n) != VM_OK) break;
    }
}

int main(int argc, char **argv) {
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:0";
    vm_tcp_listener_t listener;
    vm_status_t s = vm_tcp_bind(address, &listener);
    if (s != VM_OK) {
        char why[256];
        vm_last_error(why, sizeof why);
        fprintf(stderr, "echo-server: cannot listen on %s: %s: %s\n", address, vm_strerror(s), why);
        return 1;
    }
    char bound[64];
    vm_tcp_listener_local_address(listener, bound, sizeof bound);
    printf("listening on %s\n", bound);
    fflush(stdout);
    for (;;) {
        vm_tcp_stream_t stream;
        if (vm_tcp_accept(listener, VM_FOREVER, &stream) != VM_OK) continue;
        /* At --max-processes the spawn is refused (limit-reached) and the
         * stream stays ours: close it and keep serving. */
        vm_status_t spawned = vm_spawn(echo, 0, 0, &stream.handle, 1, false, 0);
        if (spawned != VM_OK) {
            fprintf(stderr, "echo-server: no process for a connection (%s); closing it\n", vm_strerror(spawned));
            vm_tcp_close(&stream);
        }
    }
}
