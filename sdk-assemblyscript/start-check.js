// An asc transform, run by the SDK's asconfig.json: it fails the build of a
// module that does not export `_start` as a function of no arguments and no
// result. The VM runs an app by calling its `_start` (the root process), and
// refuses a module without one only when it is run; AssemblyScript compiles
// such a module without a word, so this check makes forgetting the export a
// build error instead.
//
// asc passes a transform's `afterCompile` the Binaryen module it built, and
// reports an exception thrown from it as the build's failure.

const HOW =
  "export the root process from the app's entry file:\n" +
  "    export function _start(): void { ... }\n" +
  "(top-level code runs in every process, spawned ones too, so keep it to declarations)";

/** The check, as asc loads a transform: a class it instantiates. */
export default class StartCheck {
  /** Checks the compiled module's `_start` export. */
  afterCompile(module) {
    const binaryen = this.binaryen;
    const ref = module.getExport("_start");
    if (!ref) fail("the module exports no `_start`, so the VM cannot run it as an app; " + HOW);
    const info = binaryen.getExportInfo(ref);
    if (info.kind !== binaryen.ExternalFunction) {
      fail("the module's `_start` export is not a function; " + HOW);
    }
    const fn = binaryen.getFunctionInfo(module.getFunction(info.value));
    if (fn.params !== binaryen.none || fn.results !== binaryen.none) {
      fail("the module's `_start` takes arguments or returns a value, and the VM calls it with none; " + HOW);
    }
  }
}

/** Fails the build with `text` alone (no stack trace). */
function fail(text) {
  const error = new Error("vm-host-sdk: " + text);
  error.stack = error.message;
  throw error;
}
