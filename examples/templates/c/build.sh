#!/bin/sh
# Builds {{name}}.wasm with Debian's clang, lld, wasi-libc and compiler-rt's
# wasm32 builtins:
#     apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
# (the last package's number is clang's major version: clang -dumpversion).
set -e
SDK="{{sdk_c_path}}"
if ! command -v clang >/dev/null; then
    echo "build.sh: clang is not installed; run: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32" >&2
    exit 1
fi
major=$(clang -dumpversion | cut -d. -f1)
builtins=$(clang --target=wasm32-wasi -print-libgcc-file-name 2>/dev/null || true)
if [ -n "$builtins" ] && [ ! -e "$builtins" ]; then
    echo "build.sh: compiler-rt's wasm32 builtins are missing ($builtins); run: apt-get install libclang-rt-$major-dev-wasm32" >&2
    exit 1
fi
# --stack-first: a stack overflow traps instead of overwriting globals.
clang --target=wasm32-wasi --sysroot=/usr -std=c11 -O2 -Wall -Wextra -Werror -Wl,--stack-first \
    -I"$SDK/include" main.c "$SDK/src/vm.c" "$SDK/src/codec.c" -o {{name}}.wasm
