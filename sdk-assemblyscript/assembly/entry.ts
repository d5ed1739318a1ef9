// The exports every module needs from the SDK: the entry through which every
// spawned process starts, and the allocator through which plugin calls
// return strings and lists. The SDK's asconfig.json lists this file in
// `entries`, so an app that extends that config exports them without a line
// of its own (forgetting such a line once compiled cleanly and then made
// every spawn fail).
export { vm_as_entry_0_1 } from "./index";
export { cabi_realloc } from "./plugin";
