// An AssemblyScript guest of the shapes plugin, through shapes.ts (which
// `vm bindgen shapes.wit --lang assemblyscript` generated): records,
// variants, an enum, flags, tuples and lists of records cross to the
// plugin, whichever of the four kinds it is. It prints the same lines as
// the Rust and C guests beside it.
//     vm run --plugin shapes_plugin.wasm shapes-guest.wasm
import { print } from "../../../../sdk-assemblyscript/assembly/index";
import { geometry, Labelled, Point, Shape, Style, Tuple2PointF64, Unit } from "./shapes";

/** `x` with `digits` decimals, as Rust's `{:.N}` prints it. */
function fixed(x: f64, digits: i32): string {
  const scale = Math.pow(10, digits);
  const scaled = <i64>Math.round(Math.abs(x) * scale);
  const whole = (scaled / <i64>scale).toString();
  let fraction = (scaled % <i64>scale).toString();
  while (fraction.length < digits) fraction = "0" + fraction;
  return (x < 0 ? "-" : "") + whole + "." + fraction;
}

/** `x` as Rust's `{}` prints these values (integers without a point). */
function display(x: f64): string {
  if (x == Math.floor(x)) return (<i64>x).toString();
  let text = fixed(x, 6);
  while (text.endsWith("0")) text = text.slice(0, text.length - 1);
  return text;
}

/** `x` as Rust prints an f32: the fewest decimals that read back as it. */
function display32(x: f32): string {
  for (let digits = 1; digits < 10; digits++) {
    let text = fixed(x, digits);
    while (text.endsWith("0")) text = text.slice(0, text.length - 1);
    if (<f32>parseFloat(text) == x) return text;
  }
  return x.toString();
}

/** `x` as Rust's `{:?}` prints these values (integers with `.0`). */
function debug(x: f64): string {
  return x == Math.floor(x) ? (<i64>x).toString() + ".0" : display(x);
}

function point(p: Point): string {
  return "(" + debug(p.x) + ", " + debug(p.y) + ")";
}

export function _start(): void {
  const circle = Shape.circle(new Tuple2PointF64(new Point(1, 2), 2));
  const triangle = Shape.polygon([new Point(0, 0), new Point(4, 0), new Point(0, 3)]);
  const empty = Shape.empty();
  print("area circle: " + fixed(geometry.area(circle), 4));
  print("area triangle: " + display(geometry.area(triangle)));
  print("area empty: " + display(geometry.area(empty)));

  const wheel = new Labelled("wheel", circle, Style.FILLED | Style.BOLD, Unit.Feet, 0xe9);
  print(geometry.describe(wheel));

  const box = geometry.bounds([circle, triangle, empty]);
  print("bounds: " + (box != null ? "Some((" + point(box.f0) + ", " + point(box.f1) + "))" : "None"));
  print("bounds of nothing: " + (geometry.bounds([]) != null ? "Some(..)" : "None"));

  const feet = geometry.convert(10, Unit.Metres, Unit.Feet);
  if (feet.isOk) print("convert 10 m: Ok(" + display32(feet.ok) + ")");
  const negative = geometry.convert(-1, Unit.Feet, Unit.Metres);
  if (!negative.isOk) print("convert -1 ft: Err(\"" + negative.err + "\")");

  const square = geometry.square("plot", 3, Style.DASHED);
  print(geometry.describe(square));
  print("area square: " + display(geometry.area(square.shape)));
}
