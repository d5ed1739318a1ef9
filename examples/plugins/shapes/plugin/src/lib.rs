//! The shapes plugin. wit-bindgen exports the functions of `shapes.wit`
//! under the canonical ABI's names; the WIT itself travels in the module's
//! `vm:plugin` section, where the VM reads what the plugin provides.

wit_bindgen::generate!({
    path: "../shapes.wit",
    world: "plugin",
});

/// The plugin's WIT, which the VM checks guests against.
#[used]
#[link_section = "vm:plugin"]
static WIT: [u8; include_bytes!("../../shapes.wit").len()] = *include_bytes!("../../shapes.wit");

use exports::plugin::shapes::geometry::{Guest, Labelled, Point, Shape, Style, Unit};

#[path = "../../geometry.rs"]
mod geometry;

struct Shapes;

impl Guest for Shapes {
    fn area(s: Shape) -> f64 {
        geometry::area(s)
    }

    fn describe(l: Labelled) -> String {
        geometry::describe(l)
    }

    fn bounds(shapes: Vec<Shape>) -> Option<(Point, Point)> {
        geometry::bounds(shapes)
    }

    fn convert(value: f32, from: Unit, to: Unit) -> Result<f32, String> {
        geometry::convert(value, from, to)
    }

    fn square(name: String, side: f64, style: Style) -> Labelled {
        geometry::square(name, side, style)
    }
}

export!(Shapes);
