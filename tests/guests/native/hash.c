/* plugin:hash as a native plugin in C (hash.wit), for the tests: a shared
 * library the VM loads through vm_native_plugin.h. Built three ways:
 * as is; with -DWRONG_ABI (a table of another ABI version); with
 * -DUNDECLARED (naming a function its WIT lacks); with -DNO_ENTRY (no
 * entry symbol at all). */
#include <vm_native_plugin.h>

#include <stdlib.h>

static const char WIT[] =
    "package plugin:hash@1.0.0;\n"
    "interface digest {\n"
    "    @since(version = 1.0.0) fnv1a: func(data: list<u8>) -> u64;\n"
    "    @since(version = 1.0.0) hex: func(data: list<u8>) -> string;\n"
    "    @since(version = 1.0.0) fail: func() -> u32;\n"
    "}\n";

/* A process's state: where a `hex` result lives until the next call. */
typedef struct state {
    char hex[16];
    unsigned calls;
} state_t;

static uint64_t fnv1a(vm_np_str_t data) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < data.len; i++) {
        h ^= data.ptr[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static void *create(void) { return calloc(1, sizeof(state_t)); }

static void drop(void *state) { free(state); }

static uint32_t call(void *opaque, size_t function, const vm_np_value_t *args, size_t nargs,
                     vm_np_return_t *out) {
    state_t *state = opaque;
    state->calls++;
    out->case_ = 0;
    switch (function) {
    case 0: /* digest.fnv1a */
        if (nargs != 1 || args[0].kind != VM_NP_BYTES) break;
        out->value = (vm_np_value_t){VM_NP_U64, fnv1a(args[0].bytes), {0, 0}};
        return 0;
    case 1: { /* digest.hex */
        if (nargs != 1 || args[0].kind != VM_NP_BYTES) break;
        uint64_t h = fnv1a(args[0].bytes);
        for (int i = 15; i >= 0; i--, h >>= 4) state->hex[i] = "0123456789abcdef"[h & 15];
        out->value = (vm_np_value_t){VM_NP_STRING, 0, {(const uint8_t *)state->hex, 16}};
        return 0;
    }
    case 2: /* digest.fail */
        out->case_ = 1;
        out->value = (vm_np_value_t){VM_NP_STRING, 0, VM_NP_STR("asked to fail")};
        return 1;
    }
    out->value = (vm_np_value_t){VM_NP_STRING, 0, VM_NP_STR("unexpected arguments")};
    return 1;
}

#ifdef UNDECLARED
static const vm_np_str_t FUNCTIONS[] = {VM_NP_STR_INIT("digest.fnv1a"),
                                        VM_NP_STR_INIT("digest.hex"),
                                        VM_NP_STR_INIT("digest.sha9")};
#else
static const vm_np_str_t FUNCTIONS[] = {VM_NP_STR_INIT("digest.fnv1a"),
                                        VM_NP_STR_INIT("digest.hex"),
                                        VM_NP_STR_INIT("digest.fail")};
#endif

#ifdef WRONG_ABI
#define ABI 99
#else
#define ABI VM_NATIVE_PLUGIN_ABI
#endif

static const vm_native_plugin_t PLUGIN = {
    ABI,  {0, 0}, {(const uint8_t *)WIT, sizeof WIT - 1}, FUNCTIONS, 3, create, drop, call,
};

#ifdef NO_ENTRY
const vm_native_plugin_t *not_a_plugin(void) { return &PLUGIN; }
#else
const vm_native_plugin_t *vm_native_plugin_v1(void) { return &PLUGIN; }
#endif
