/* Native plugins for the vm:host VM, in C: host functions a guest imports
 * as `plugin:NAME/IFACE@MAJOR`, declared by the plugin's WIT, loaded from a
 * shared library with `vm run --native-plugin libNAME.so`.
 *
 * NATIVE CODE RUNS OUTSIDE THE SANDBOX, in the VM's process: a crash in it
 * ends the VM. Build it as a shared library for the VM's machine:
 *
 *     cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o libhash.so hash.c
 *
 * The library exports one function, `vm_native_plugin_v1`, returning a
 * table that lives as long as the library (a static). The VM checks its
 * ABI version, its WIT (`package plugin:NAME@MAJOR.MINOR.PATCH`, the same
 * file guests generate their bindings from) and that every function it
 * names is declared there.
 *
 * A call: `call(state, function, args, nargs, out)`, where `function`
 * indexes `functions` ("INTERFACE.FUNCTION"), the arguments are the VM's
 * copies (never guest pointers), in the WIT's order and types, valid
 * during the call. Return 0 with the result in `*out`, or 1 with the
 * reason (a string value) in `out->value`: the calling process ends with
 * it. Bytes a result points to stay the plugin's and must stay valid
 * until the next call with the same state, or its drop.
 *
 * A result: `out->case` is 0 for a plain value, an option's none or a
 * result's ok, 1 for an option's some or a result's error; `out->value`
 * is the payload (kind VM_NP_NONE when there is none).
 *
 * States: `create` makes one per process, on its first call to the plugin
 * (return NULL if it cannot: that process's calls then fail); `drop` frees
 * it when the process ends; `size` says what it holds. Each state counts
 * against the VM's --max-plugin-instances. A state may move between threads; the VM makes
 * one call with it at a time. Calls with different states may run at the
 * same time on different threads.
 *
 * Stack: a call runs on the calling process's stack, with about 1 MiB for
 * the plugin's own frames; more (a large local array, deep recursion)
 * aborts the VM. Allocate large buffers on the heap. */
#ifndef VM_NATIVE_PLUGIN_H
#define VM_NATIVE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The C ABI's version this header speaks. Version 2 added `size`; the VM
 * loads tables of versions 1 to 3 and refuses others. Version 3 (which
 * vm-plugin's export_native_plugin! writes) carries every WIT value as a
 * tree; versions 1 and 2 carry the values below, and the VM refuses a
 * library of them whose WIT needs more. */
#define VM_NATIVE_PLUGIN_ABI 2

/* Value kinds. */
#define VM_NP_NONE 0
#define VM_NP_BOOL 1
#define VM_NP_U8 2
#define VM_NP_U16 3
#define VM_NP_U32 4
#define VM_NP_U64 5
#define VM_NP_S8 6
#define VM_NP_S16 7
#define VM_NP_S32 8
#define VM_NP_S64 9
#define VM_NP_STRING 10 /* UTF-8, in bytes */
#define VM_NP_BYTES 11  /* list<u8>, in bytes */

/* Borrowed bytes. */
typedef struct vm_np_str {
    const uint8_t *ptr;
    size_t len;
} vm_np_str_t;

/* A value: scalars in `bits` (zero- or sign-extended), strings and lists
 * in `bytes`. */
typedef struct vm_np_value {
    uint32_t kind;
    uint64_t bits;
    vm_np_str_t bytes;
} vm_np_value_t;

/* A call's result. */
typedef struct vm_np_return {
    uint32_t case_;
    vm_np_value_t value;
} vm_np_return_t;

/* What the library provides. */
typedef struct vm_native_plugin {
    uint32_t abi_version;          /* VM_NATIVE_PLUGIN_ABI */
    vm_np_str_t error;             /* non-empty: the plugin could not start, and why */
    vm_np_str_t wit;               /* the plugin's WIT text */
    const vm_np_str_t *functions;  /* "INTERFACE.FUNCTION", by index */
    size_t function_count;
    void *(*create)(void);       /* required */
    void (*drop)(void *state);   /* may be NULL: states that need no freeing */
    uint32_t (*call)(void *state, size_t function, const vm_np_value_t *args, size_t nargs,
                     vm_np_return_t *out); /* required */
    /* May be NULL. The bytes of the VM process's memory a state holds
     * (the state itself and what it owns): the VM measures it after each
     * call and charges it to the calling process's budget (--max-mailbox)
     * and the VM's (--max-host-memory); a call that would take either past
     * its limit ends the caller with a reason saying so. Without it, a
     * state is charged only the VM's own record of it (about 80 bytes),
     * whatever it holds. */
    size_t (*size)(const void *state);
} vm_native_plugin_t;

/* A string literal as borrowed bytes (without its NUL): VM_NP_STR in an
 * expression, VM_NP_STR_INIT in a static initializer. */
#define VM_NP_STR_INIT(s) {(const uint8_t *)(s), sizeof(s) - 1}
#define VM_NP_STR(s) ((vm_np_str_t)VM_NP_STR_INIT(s))

/* The entry the VM calls; define it in the plugin. */
const vm_native_plugin_t *vm_native_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* VM_NATIVE_PLUGIN_H */
