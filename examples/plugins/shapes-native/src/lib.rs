//! The shapes plugin as native Rust, from the same `shapes.wit` as the wasm
//! one and the same code (`../shapes/geometry.rs`): its records, variants,
//! enum and flags are Rust types declared with vm-plugin's macros, so the
//! same guests run with it unchanged, in-process
//! (`Vm::builder().native_plugin(shapes_native::plugin())`) or from the
//! shared library `library/` makes of it (`vm run --native-plugin
//! libshapes_native_plugin.so`; a crate of its own, so that programs that
//! link several plugins' Rust libraries get one C-ABI entry at most).

use vm_plugin::{wit_enum, wit_flags, wit_record, wit_variant, Plugin};

/// shapes' WIT.
pub const WIT: &str = include_str!("../../shapes/shapes.wit");

wit_record! {
    /// A point in the plane.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Point { pub x: f64, pub y: f64 }
}

wit_variant! {
    /// A shape.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Shape { Circle((Point, f64)), Polygon(Vec<Point>), Empty }
}

wit_enum! {
    /// The unit lengths are in.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Unit { Metres, Feet }
}

wit_flags! {
    /// How a shape is drawn.
    pub struct Style { FILLED, DASHED, BOLD }
}

wit_record! {
    /// A shape with a name, a style, a unit and a one-letter tag.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Labelled {
        pub name: String,
        pub shape: Shape,
        pub style: Style,
        pub unit: Unit,
        pub tag: char,
    }
}

#[path = "../../shapes/geometry.rs"]
mod geometry;

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::builder(WIT, || ())
        .func("geometry.area", |_, (s,): (Shape,)| geometry::area(s))
        .func("geometry.describe", |_, (l,): (Labelled,)| {
            geometry::describe(l)
        })
        .func("geometry.bounds", |_, (shapes,): (Vec<Shape>,)| {
            geometry::bounds(shapes)
        })
        .func(
            "geometry.convert",
            |_, (value, from, to): (f32, Unit, Unit)| geometry::convert(value, from, to),
        )
        .func(
            "geometry.square",
            |_, (name, side, style): (String, f64, Style)| geometry::square(name, side, style),
        )
        .build()
}
