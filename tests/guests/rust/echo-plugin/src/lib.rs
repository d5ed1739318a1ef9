//! The echo plugin: every function returns what it was given, so guests'
//! bindings can be checked against wit-bindgen's reading of the same WIT.

wit_bindgen::generate!({
    path: "../../echo.wit",
    world: "plugin",
});

/// The plugin's WIT, which the VM checks guests against.
#[used]
#[link_section = "vm:plugin"]
static WIT: [u8; include_bytes!("../../../echo.wit").len()] = *include_bytes!("../../../echo.wit");

use exports::plugin::echo::api::{All, Bag, Guest, Mixed, Nine, Scalars, Seventeen};

struct Echo;

impl Guest for Echo {
    fn echo_scalars(s: Scalars) -> Scalars {
        s
    }

    fn echo_mixed(m: Mixed) -> Mixed {
        m
    }

    fn echo_flags(a: Nine, b: Seventeen) -> (Nine, Seventeen) {
        (a, b)
    }

    fn echo_bag(b: Bag) -> Bag {
        b
    }

    #[allow(clippy::too_many_arguments)]
    fn wide(
        a: u8,
        b: i8,
        c: u16,
        d: i16,
        e: u32,
        f: i32,
        g: u64,
        h: i64,
        i: f32,
        j: f64,
        k: char,
        l: bool,
        m: String,
        n: Vec<u32>,
        o: Option<u8>,
        p: i8,
    ) -> All {
        All {
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            l,
            m,
            n,
            o,
            p,
        }
    }

    fn small(x: Option<u8>) -> Result<(), ()> {
        x.map(|_| ()).ok_or(())
    }

    fn repeat(s: String, n: u32) -> Vec<String> {
        vec![s; n as usize]
    }
}

export!(Echo);
