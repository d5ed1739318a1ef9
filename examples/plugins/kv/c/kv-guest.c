/* A process and its child each use the kv plugin, through kv.h (which `vm
 * bindgen kv.wit --lang c` generated):
 *     vm run --plugin kv_plugin.wasm kv-guest.wasm
 *
 * Every process that calls the plugin has a store of its own, so the
 * child's count does not see the parent's keys. */
#include <stdio.h>
#include <string.h>
#include <vm.h>

#include "kv.h"

/* `key` as a (pointer, length) pair, the way kv.h takes strings. */
#define KEY(s) (s), strlen(s)

static void print_get(const char *key) {
    kv_bytes_t value;
    if (kv_store_get(KEY(key), &value)) {
        printf("get %s: %.*s\n", key, (int)value.len, (const char *)value.ptr);
    } else {
        printf("get %s: none\n", key);
    }
    kv_bytes_free(&value);
}

static void print_increment(const char *key, int64_t by) {
    int64_t sum;
    kv_string_t err;
    if (kv_store_increment(KEY(key), by, &sum, &err)) {
        printf("increment %s: %lld\n", key, (long long)sum);
    } else {
        printf("increment %s: error: %.*s\n", key, (int)err.len, err.ptr);
    }
    kv_string_free(&err);
}

/* The child counts the keys in its own store and sends the number to the
 * parent, whose id is its capture. */
static void child(const uint8_t *capture, size_t len) {
    vm_reader_t r;
    vm_reader_init(&r, capture, len);
    vm_pid_t parent = vm_get_u64(&r);
    uint8_t buf[8];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, kv_store_count());
    vm_send_writer(parent, 0, &w);
}

int main(void) {
    const char *greeting = "hello, plugin";
    kv_store_set(KEY("greeting"), (const uint8_t *)greeting, strlen(greeting));
    printf("set greeting\n");
    print_get("greeting");
    print_get("missing");
    printf("count: %u\n", kv_store_count());
    print_increment("hits", 1);
    print_increment("hits", 2);
    print_increment("greeting", 1);
    printf("remove greeting: %s\n", kv_store_remove(KEY("greeting")) ? "true" : "false");
    printf("remove greeting: %s\n", kv_store_remove(KEY("greeting")) ? "true" : "false");
    printf("count: %u\n", kv_store_count());

    uint8_t buf[16];
    vm_writer_t w;
    vm_writer_init(&w, buf, sizeof buf);
    vm_put_u64(&w, vm_self());
    vm_pid_t pid;
    vm_status_t s = vm_spawn(child, w.data, w.len, 0, 0, false, &pid);
    if (s != VM_OK) {
        fprintf(stderr, "spawn failed: %s\n", vm_strerror(s));
        return 1;
    }
    vm_message_t m;
    s = vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, buf, sizeof buf, &m);
    if (s != VM_OK) {
        fprintf(stderr, "no count from the child: %s\n", vm_strerror(s));
        return 1;
    }
    vm_reader_t r;
    vm_reader_init_message(&r, &m);
    uint32_t n = vm_get_u32(&r);
    if (vm_reader_finish(&r) != VM_OK) {
        fprintf(stderr, "the child's count does not decode\n");
        return 1;
    }
    printf("child count: %u\n", n);
    return 0;
}
