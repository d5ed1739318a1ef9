// Calls the echo plugin through echo.ts with values at the edges of every
// WIT type and checks each comes back unchanged: the AssemblyScript
// bindings lower and lift as the VM and wit-bindgen (the plugin's) do.
// Prints one line per function, as the Rust and C echo guests do.
import { print, exit } from "../../../sdk-assemblyscript/assembly/index";
import {
  api, All, Bag, Mixed, Nine, ResultStringBytes, Scalars, Seventeen, Some, Tuple2S32F32,
} from "./echo";

function check(ok: bool, what: string): void {
  if (!ok) exit("check failed: " + what);
}

function sameStrings(a: Array<string>, b: Array<string>): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

function sameScalars(a: Scalars, b: Scalars): bool {
  return a.a == b.a && a.b == b.b && a.c == b.c && a.d == b.d &&
    reinterpret<u32>(a.e) == reinterpret<u32>(b.e) && a.f == b.f && a.g == b.g &&
    a.h == b.h && a.i == b.i && a.j == b.j;
}

function sameMixed(a: Mixed, b: Mixed): bool {
  if (a.tag != b.tag) return false;
  if (a.tag == Mixed.SINGLE) return reinterpret<u32>(a.single) == reinterpret<u32>(b.single);
  if (a.tag == Mixed.WIDE) return a.wide == b.wide;
  if (a.tag == Mixed.DOUBLE) return a.double == b.double;
  if (a.tag == Mixed.TEXT) return a.text! == b.text!;
  if (a.tag == Mixed.MAYBE) {
    const x = a.maybe!, y = b.maybe!;
    if (x.length != y.length) return false;
    for (let i = 0; i < x.length; i++) {
      const p = x[i], q = y[i];
      if ((p == null) != (q == null)) return false;
      if (p != null && q != null && p != q) return false;
    }
  }
  return true;
}

function cases(): Array<Mixed> {
  return [
    Mixed.single(-2.5),
    Mixed.wide(u64.MAX_VALUE - 1),
    Mixed.double(f64.MAX_VALUE),
    Mixed.text("a\0b é"),
    Mixed.maybe(["x", null, ""]),
    Mixed.maybe([]),
    Mixed.nothing(),
  ];
}

export function _start(): void {
  const scalars = [
    new Scalars(i8.MIN_VALUE, u16.MAX_VALUE, i16.MIN_VALUE, 0x10ffff, -0.0, u64.MAX_VALUE, i64.MIN_VALUE, true, 2.2250738585072014e-308, 255),
    new Scalars(-1, 0, -2, 0xe9, f32.POSITIVE_INFINITY, <u64>1 << 63, -1, false, -1.5e300, 0),
  ];
  for (let i = 0; i < scalars.length; i++) {
    check(sameScalars(api.echoScalars(scalars[i]), scalars[i]), "scalars " + i.toString());
  }
  print("scalars: ok");

  const all = cases();
  for (let i = 0; i < all.length; i++) {
    check(sameMixed(api.echoMixed(all[i]), all[i]), "mixed " + i.toString());
  }
  print("mixed: ok");

  const nines: u32[] = [0, Nine.F8 | Nine.F0, 0x1ff];
  const seventeens: u32[] = [0, Seventeen.G16 | Seventeen.G1, 0x1ffff];
  for (let i = 0; i < 3; i++) {
    const back = api.echoFlags(nines[i], seventeens[i]);
    check(back.f0 == nines[i] && back.f1 == seventeens[i], "flags " + i.toString());
  }
  print("flags: ok");

  const bytes = new Uint8Array(256);
  for (let i = 0; i < 256; i++) bytes[i] = <u8>i;
  for (let shape = 0; shape < 4; shape++) {
    let nested: Some<ResultStringBytes | null> | null = null;
    if (shape > 0) {
      let inner: ResultStringBytes | null = null;
      if (shape == 2) {
        inner = new ResultStringBytes();
        inner.ok = "ok";
      }
      if (shape == 3) {
        inner = new ResultStringBytes();
        inner.isOk = false;
        const err = new Uint8Array(3);
        err[0] = 1;
        err[1] = 2;
        err[2] = 3;
        inner.err = err;
      }
      nested = new Some<ResultStringBytes | null>(inner);
    }
    const bag = new Bag(
      [[], ["one"], ["two", ""]],
      bytes,
      [new Tuple2S32F32(i32.MIN_VALUE, 0.5), new Tuple2S32F32(7, -0.0)],
      cases(),
      nested,
    );
    const back = api.echoBag(bag);
    check(back.names.length == 3 && sameStrings(back.names[1], ["one"]) && sameStrings(back.names[2], ["two", ""]), "names");
    check(back.names[0].length == 0 && sameBytes(back.bytes, bytes), "bytes");
    check(back.points.length == 2 && back.points[0].f0 == i32.MIN_VALUE && back.points[0].f1 == 0.5, "points");
    check(reinterpret<u32>(back.points[1].f1) == reinterpret<u32>(<f32>-0.0), "-0.0");
    check(back.cases.length == 7, "cases");
    for (let i = 0; i < 7; i++) check(sameMixed(back.cases[i], bag.cases[i]), "case " + i.toString());
    const n = back.nested;
    check((n == null) == (shape == 0), "nested some");
    if (n != null) {
      const inner = n.value;
      check((inner == null) == (shape == 1), "nested inner");
      if (inner != null) {
        check(inner.isOk == (shape == 2), "nested case");
        if (shape == 2) check(inner.ok == "ok", "nested ok");
        if (shape == 3) check(inner.err.length == 3 && inner.err[2] == 3, "nested err");
      }
    }
  }
  print("bag: ok");

  const wide = api.wide(200, -100, 60000, -30000, 4000000000, -2000000000, u64.MAX_VALUE, i64.MIN_VALUE + 1, 3.25, -7.125, 0x1f980, true, "wide", [1, 2, 3], new Some<u8>(9), -1);
  check(wide.a == 200 && wide.b == -100 && wide.c == 60000 && wide.d == -30000, "wide a-d");
  check(wide.e == 4000000000 && wide.f == -2000000000 && wide.g == u64.MAX_VALUE, "wide e-g");
  check(wide.h == i64.MIN_VALUE + 1 && wide.i == 3.25 && wide.j == -7.125 && wide.k == 0x1f980, "wide h-k");
  const o = wide.o;
  check(wide.l && wide.m == "wide" && wide.n.length == 3 && wide.n[2] == 3, "wide l-n");
  check(o != null && o.value == 9 && wide.p == -1, "wide o-p");
  print("wide: ok");

  check(api.small(new Some<u8>(0)).isOk, "small some");
  check(!api.small(null).isOk, "small none");
  print("small: ok");

  const many = api.repeat("é", 10000);
  check(many.length == 10000, "repeat length");
  for (let i = 0; i < many.length; i++) check(many[i] == "é", "repeat item");
  check(api.repeat("", 0).length == 0, "repeat none");
  print("repeat: ok");
}
