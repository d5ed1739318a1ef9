//! A guest that calls the shapes plugin through the bindings `vm bindgen`
//! generated from `shapes.wit` (`shapes.rs`): records, variants, enums,
//! flags, tuples and lists of records cross between the guest and the
//! plugin, whichever of the four kinds the plugin is. It prints the same
//! lines as the wit-bindgen guest beside it and the C and AssemblyScript
//! guests.

mod shapes;

use shapes::geometry::{self, Labelled, Point, Shape, Style, Unit};

fn main() {
    let origin = Point { x: 0.0, y: 0.0 };
    let circle = Shape::Circle((Point { x: 1.0, y: 2.0 }, 2.0));
    let triangle = Shape::Polygon(vec![
        origin,
        Point { x: 4.0, y: 0.0 },
        Point { x: 0.0, y: 3.0 },
    ]);
    println!("area circle: {:.4}", geometry::area(&circle));
    println!("area triangle: {}", geometry::area(&triangle));
    println!("area empty: {}", geometry::area(&Shape::Empty));
    let label = Labelled {
        name: "wheel".into(),
        shape: circle.clone(),
        style: Style::FILLED | Style::BOLD,
        unit: Unit::Feet,
        tag: 'é',
    };
    println!("{}", geometry::describe(&label));
    println!(
        "bounds: {:?}",
        geometry::bounds(&[circle, triangle, Shape::Empty])
            .map(|(lo, hi)| ((lo.x, lo.y), (hi.x, hi.y)))
    );
    println!("bounds of nothing: {:?}", geometry::bounds(&[]).map(|_| ()));
    println!(
        "convert 10 m: {:?}",
        geometry::convert(10.0, Unit::Metres, Unit::Feet)
    );
    println!(
        "convert -1 ft: {:?}",
        geometry::convert(-1.0, Unit::Feet, Unit::Metres)
    );
    let square = geometry::square("plot", 3.0, Style::DASHED);
    println!("{}", geometry::describe(&square));
    println!("area square: {}", geometry::area(&square.shape));
}
