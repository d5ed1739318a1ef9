//! What the shapes plugin does, whichever kind it is built as: the wasm
//! plugin (wit-bindgen's types) and the native one (vm-plugin's) include
//! this file beside types of the same names and shapes.

use super::{Labelled, Point, Shape, Style, Unit};

/// The corners of a shape's box, if it has points.
fn corners(s: &Shape) -> Vec<Point> {
    match s {
        Shape::Circle((c, r)) => vec![
            Point {
                x: c.x - r,
                y: c.y - r,
            },
            Point {
                x: c.x + r,
                y: c.y + r,
            },
        ],
        Shape::Polygon(points) => points.clone(),
        Shape::Empty => Vec::new(),
    }
}

/// The area of a shape.
pub fn area(s: Shape) -> f64 {
    match s {
        Shape::Circle((_, r)) => std::f64::consts::PI * r * r,
        // The shoelace formula.
        Shape::Polygon(p) => {
            let n = p.len();
            let twice: f64 = (0..n)
                .map(|i| p[i].x * p[(i + 1) % n].y - p[(i + 1) % n].x * p[i].y)
                .sum();
            twice.abs() / 2.0
        }
        Shape::Empty => 0.0,
    }
}

/// A line describing a labelled shape.
pub fn describe(l: Labelled) -> String {
    let kind = match &l.shape {
        Shape::Circle((c, r)) => format!("circle at ({}, {}) of radius {r}", c.x, c.y),
        Shape::Polygon(p) => format!("polygon of {} corners", p.len()),
        Shape::Empty => "nothing".into(),
    };
    let mut style = Vec::new();
    for (flag, name) in [
        (Style::FILLED, "filled"),
        (Style::DASHED, "dashed"),
        (Style::BOLD, "bold"),
    ] {
        if l.style.contains(flag) {
            style.push(name);
        }
    }
    let unit = match l.unit {
        Unit::Metres => "m",
        Unit::Feet => "ft",
    };
    format!(
        "[{}] {}: {kind}, {unit}, {}",
        l.tag,
        l.name,
        if style.is_empty() {
            "plain".to_string()
        } else {
            style.join("+")
        }
    )
}

/// The smallest box holding every shape, or none for no points.
pub fn bounds(shapes: Vec<Shape>) -> Option<(Point, Point)> {
    let points: Vec<Point> = shapes.iter().flat_map(corners).collect();
    let first = *points.first()?;
    Some(points.iter().fold((first, first), |(lo, hi), p| {
        (
            Point {
                x: lo.x.min(p.x),
                y: lo.y.min(p.y),
            },
            Point {
                x: hi.x.max(p.x),
                y: hi.y.max(p.y),
            },
        )
    }))
}

/// `value` converted between units; an error for a negative length.
pub fn convert(value: f32, from: Unit, to: Unit) -> Result<f32, String> {
    if value < 0.0 {
        return Err(format!("a length cannot be negative ({value})"));
    }
    const FEET_PER_METRE: f32 = 3.28084;
    Ok(match (from, to) {
        (Unit::Metres, Unit::Feet) => value * FEET_PER_METRE,
        (Unit::Feet, Unit::Metres) => value / FEET_PER_METRE,
        _ => value,
    })
}

/// A labelled square of side `side` at the origin.
pub fn square(name: String, side: f64, style: Style) -> Labelled {
    let corner = |x, y| Point { x, y };
    Labelled {
        tag: name.chars().next().unwrap_or('?'),
        name,
        shape: Shape::Polygon(vec![
            corner(0.0, 0.0),
            corner(side, 0.0),
            corner(side, side),
            corner(0.0, side),
        ]),
        style,
        unit: Unit::Metres,
    }
}
