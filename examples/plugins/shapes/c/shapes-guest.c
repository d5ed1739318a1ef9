/* A C guest of the shapes plugin, through shapes.h (which `vm bindgen
 * shapes.wit --lang c` generated): records, variants, an enum, flags,
 * tuples and lists of records cross to the plugin, whichever of the four
 * kinds it is. It prints the same lines as the Rust guests beside it.
 *     vm run --plugin shapes_plugin.wasm shapes-guest.wasm */
#include <math.h>
#include <stdio.h>

#include "shapes.h"

/* A float as Rust's `{:?}` prints it (the Rust guests' lines). */
static void print_f64(double x) {
    if (x == floor(x) && fabs(x) < 1e15) {
        printf("%.1f", x);
    } else {
        printf("%.17g", x);
    }
}

static void print_point(shapes_point_t p) {
    printf("(");
    print_f64(p.x);
    printf(", ");
    print_f64(p.y);
    printf(")");
}

static void print_described(const shapes_labelled_t *l) {
    shapes_string_t line = shapes_geometry_describe(l);
    printf("%.*s\n", (int)line.len, line.ptr);
    shapes_string_free(&line);
}

int main(void) {
    shapes_shape_t circle;
    circle.tag = SHAPES_SHAPE_CIRCLE;
    circle.val.circle.f0.x = 1.0;
    circle.val.circle.f0.y = 2.0;
    circle.val.circle.f1 = 2.0;
    shapes_point_t corners[] = {{0.0, 0.0}, {4.0, 0.0}, {0.0, 3.0}};
    shapes_shape_t triangle;
    triangle.tag = SHAPES_SHAPE_POLYGON;
    triangle.val.polygon.ptr = corners;
    triangle.val.polygon.len = 3;
    shapes_shape_t empty;
    empty.tag = SHAPES_SHAPE_EMPTY;

    printf("area circle: %.4f\n", shapes_geometry_area(&circle));
    printf("area triangle: %g\n", shapes_geometry_area(&triangle));
    printf("area empty: %g\n", shapes_geometry_area(&empty));

    shapes_labelled_t wheel;
    wheel.name = shapes_string_of("wheel");
    wheel.shape = circle;
    wheel.style = SHAPES_STYLE_FILLED | SHAPES_STYLE_BOLD;
    wheel.unit = SHAPES_UNIT_FEET;
    wheel.tag = 0xE9; /* é */
    print_described(&wheel);

    shapes_shape_t all[] = {circle, triangle, empty};
    shapes_tuple2_point_point_t box;
    if (shapes_geometry_bounds(all, 3, &box)) {
        printf("bounds: Some((");
        print_point(box.f0);
        printf(", ");
        print_point(box.f1);
        printf("))\n");
    } else {
        printf("bounds: None\n");
    }
    printf("bounds of nothing: %s\n", shapes_geometry_bounds(NULL, 0, &box) ? "Some(())" : "None");

    float feet;
    shapes_string_t err;
    if (shapes_geometry_convert(10.0f, SHAPES_UNIT_METRES, SHAPES_UNIT_FEET, &feet, &err)) {
        printf("convert 10 m: Ok(%g)\n", feet);
    }
    shapes_string_free(&err);
    if (!shapes_geometry_convert(-1.0f, SHAPES_UNIT_FEET, SHAPES_UNIT_METRES, &feet, &err)) {
        printf("convert -1 ft: Err(\"%.*s\")\n", (int)err.len, err.ptr);
    }
    shapes_string_free(&err);

    shapes_labelled_t square = shapes_geometry_square("plot", 4, 3.0, SHAPES_STYLE_DASHED);
    print_described(&square);
    printf("area square: %g\n", shapes_geometry_area(&square.shape));
    shapes_labelled_free(&square);
    return 0;
}
