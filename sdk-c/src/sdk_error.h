/* The SDK's own failures (a buffer too small, a message that did not
 * decode), shared by vm.c and codec.c: each records a text that
 * vm_last_error() then gives instead of the VM's older one. */
#ifndef VM_SDK_ERROR_H
#define VM_SDK_ERROR_H

#include "vm.h"

/* Records `status` as the last failure, with a text formatted from `fmt`:
 * `%s` takes a const char *, `%u` a uint64_t (cast every number), `%%` a
 * percent sign. Returns `status`. */
__attribute__((visibility("hidden"))) vm_status_t vm_sdk_fail_(vm_status_t status, const char *fmt, ...);

#endif /* VM_SDK_ERROR_H */
