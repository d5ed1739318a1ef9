// What calls to plugins need from a module: `cabi_realloc`, the canonical
// ABI's allocator, through which the VM hands over the strings and lists a
// plugin function returns. The bindings `vm bindgen PLUGIN.wit --lang
// assemblyscript` generates copy them into managed objects and free the
// memory, so it comes from the raw heap (`heap.alloc`), which the garbage
// collector neither moves nor frees. entry.ts exports it.

/**
 * @internal The canonical ABI's `realloc`: a block of `newSize` bytes
 * aligned to `align` (at most 16: heap blocks are 16-byte aligned, and no
 * canonical type needs more than 8), holding `oldPtr`'s first bytes when it
 * is not 0.
 */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (align > 16) unreachable();
  return oldPtr == 0 ? heap.alloc(newSize) : heap.realloc(oldPtr, newSize);
}
