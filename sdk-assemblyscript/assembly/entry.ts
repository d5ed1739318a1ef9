// The export through which every spawned process starts. The SDK's
// asconfig.json lists this file in `entries`, so an app that extends that
// config exports it without a line of its own (forgetting such a line once
// compiled cleanly and then made every spawn fail).
export { vm_as_entry_0_1 } from "./index";
