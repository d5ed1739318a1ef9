#!/bin/sh
# Builds {{name}}.wasm with Debian's clang, lld and wasi-libc
# (apt-get install clang lld wasi-libc).
set -e
SDK="{{sdk_c_path}}"
clang --target=wasm32-wasi --sysroot=/usr -std=c11 -O2 -Wall -Wextra -Werror \
    -I"$SDK/include" main.c "$SDK/src/vm.c" "$SDK/src/codec.c" -o {{name}}.wasm
