/* plugin:hash as a native plugin in C (hash.wit), for the tests: a shared
 * library the VM loads through vm_native_plugin.h. Built as is, and with
 * one fault each: -DWRONG_ABI (a table of another ABI version);
 * -DUNDECLARED (naming a function its WIT lacks); -DNO_ENTRY (no entry
 * symbol at all); -DUNRESOLVED (calling a function nothing defines);
 * -DNULL_WIT (its WIT a null pointer with a length); -DNULL_RESULT (`hex`
 * returning a null pointer with a length); -DHUGE_SIZE (a state that says
 * it holds a tebibyte, which the VM must charge); -DRECORD_WIT (a WIT whose
 * `fail` returns a record, which ABI 2 cannot carry). And -DABI_V1: a table
 * of the C ABI's first version (without `size`), which the VM still loads. */
#include <vm_native_plugin.h>

#include <stdlib.h>

static const char WIT[] =
    "package plugin:hash@1.0.0;\n"
    "interface digest {\n"
    "    @since(version = 1.0.0) fnv1a: func(data: list<u8>) -> u64;\n"
    "    @since(version = 1.0.0) hex: func(data: list<u8>) -> string;\n"
#ifdef RECORD_WIT
    "    record pair { a: u32, b: u32 }\n"
    "    @since(version = 1.0.0) fail: func() -> pair;\n"
#else
    "    @since(version = 1.0.0) fail: func() -> u32;\n"
#endif
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

#ifdef UNRESOLVED
extern void vm_np_nothing_defines_this(void);
#endif

static void *create(void) {
#ifdef UNRESOLVED
    vm_np_nothing_defines_this();
#endif
    return calloc(1, sizeof(state_t));
}

static void drop(void *state) { free(state); }

#ifndef ABI_V1
static size_t size(const void *state) {
    (void)state;
#ifdef HUGE_SIZE
    return (size_t)1 << 40;
#else
    return sizeof(state_t);
#endif
}
#endif

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
#ifdef NULL_RESULT
        out->value = (vm_np_value_t){VM_NP_STRING, 0, {NULL, 16}};
#else
        out->value = (vm_np_value_t){VM_NP_STRING, 0, {(const uint8_t *)state->hex, 16}};
#endif
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
#elif defined ABI_V1
#define ABI 1
#else
#define ABI VM_NATIVE_PLUGIN_ABI
#endif

#ifdef NULL_WIT
#define WIT_BYTES {NULL, sizeof WIT - 1}
#else
#define WIT_BYTES {(const uint8_t *)WIT, sizeof WIT - 1}
#endif

#ifdef ABI_V1
/* Version 1's table: version 2's without `size`. */
static const struct {
    uint32_t abi_version;
    vm_np_str_t error, wit;
    const vm_np_str_t *functions;
    size_t function_count;
    void *(*create)(void);
    void (*drop)(void *state);
    uint32_t (*call)(void *, size_t, const vm_np_value_t *, size_t, vm_np_return_t *);
} PLUGIN_V1 = {ABI, {0, 0}, WIT_BYTES, FUNCTIONS, 3, create, drop, call};
/* The VM reads the version first, then the table of that version. */
#define TABLE ((const vm_native_plugin_t *)(const void *)&PLUGIN_V1)
#else
static const vm_native_plugin_t PLUGIN = {
    ABI, {0, 0}, WIT_BYTES, FUNCTIONS, 3, create, drop, call, size,
};
#define TABLE (&PLUGIN)
#endif

#ifdef NO_ENTRY
const vm_native_plugin_t *not_a_plugin(void) { return TABLE; }
#else
const vm_native_plugin_t *vm_native_plugin_v1(void) { return TABLE; }
#endif
