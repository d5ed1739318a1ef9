//! The canonical ABI on the guest's side: how a plugin call's arguments are
//! lowered into core values or memory, and how its result is lifted back,
//! for every WIT type the bindings use (`vm_sdk::plugin!` and `vm bindgen
//! --lang rust` implement [`Lower`] and [`Lift`] for the records, variants,
//! enums and flags a WIT defines; this module covers the rest).
//!
//! Flat values travel as raw bits in 64-bit slots, zero-extended: an `i32`
//! in the low half, an `f32` as its bits. That is what the canonical ABI's
//! joining of variant payloads does too (an `f32` in an `i64` slot is its
//! bits, zero-extended), so a variant's payload needs no conversion; each
//! slot becomes its core type only at the call.
//!
//! Strings and lists a plugin returns arrive in memory the VM allocated
//! with this crate's `cabi_realloc` (the global allocator), exactly sized
//! and aligned for their elements: a `String`, or a `Vec` of a type whose
//! memory layout is Rust's, is taken over without copying; other lists are
//! read element by element and their memory freed.

use super::MAX_FLAT_PARAMS;
use std::alloc::{dealloc, handle_alloc_error, Layout};

/// `x` rounded up to a multiple of `align` (a power of two).
pub const fn align_to(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}

/// The larger of two sizes.
pub const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The size of a tuple or record of `(size, align)` fields.
pub const fn record_size(fields: &[(usize, usize)]) -> usize {
    let mut end = 0;
    let mut i = 0;
    while i < fields.len() {
        end = align_to(end, fields[i].1) + fields[i].0;
        i += 1;
    }
    align_to(end, record_align(fields))
}

/// The alignment of a tuple or record of `(size, align)` fields.
pub const fn record_align(fields: &[(usize, usize)]) -> usize {
    let mut align = 1;
    let mut i = 0;
    while i < fields.len() {
        align = max(align, fields[i].1);
        i += 1;
    }
    align
}

/// A type's facts in the canonical ABI.
pub trait Canon {
    /// Bytes it takes in memory.
    const SIZE: usize;
    /// Its alignment in memory.
    const ALIGN: usize;
    /// How many core values it flattens to.
    const FLAT: usize;
    /// Whether its memory layout is Rust's own (scalars), so a list of it
    /// crosses as it is.
    const AS_IS: bool = false;
}

/// A value a guest passes to a plugin.
pub trait Lower: Canon {
    /// Writes the value at `at`.
    ///
    /// # Safety
    /// `at` is aligned to [`Canon::ALIGN`] with [`Canon::SIZE`] writable bytes.
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch);

    /// Appends the value's core values.
    fn flat(&self, out: &mut Flat, cx: &mut Scratch);
}

/// A value a guest receives from a plugin.
pub trait Lift: Canon + Sized {
    /// Reads the value at `at`, taking over the strings and lists it points
    /// to.
    ///
    /// # Safety
    /// The VM wrote a valid value there, read once.
    unsafe fn load(at: *const u8) -> Self;

    /// Reads the value from its core values.
    ///
    /// # Safety
    /// As [`Lift::load`].
    unsafe fn unflat(from: &mut Slots) -> Self;
}

/// The memory a call's lowering allocated (lists copied into the canonical
/// layout, parameters passed in memory), freed when the call is over.
#[derive(Default)]
pub struct Scratch {
    blocks: Vec<(*mut u8, Layout)>,
}

impl Scratch {
    /// Nothing allocated yet.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// `size` bytes aligned to `align`, zeroed, until the scratch is dropped.
    pub fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        if size == 0 {
            return align as *mut u8;
        }
        let Ok(layout) = Layout::from_size_align(size, align) else {
            panic!("vm-sdk: a plugin call's arguments need {size} bytes, more than memory has")
        };
        // SAFETY: a layout of non-zero size.
        let at = unsafe { std::alloc::alloc_zeroed(layout) };
        if at.is_null() {
            handle_alloc_error(layout)
        }
        self.blocks.push((at, layout));
        at
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for &(at, layout) in &self.blocks {
            // SAFETY: allocated in `alloc` with this layout.
            unsafe { dealloc(at, layout) }
        }
    }
}

/// Core values being lowered, as zero-extended raw bits.
pub struct Flat {
    slots: [u64; MAX_FLAT_PARAMS],
    len: usize,
}

impl Default for Flat {
    fn default() -> Self {
        Flat::new()
    }
}

impl Flat {
    /// No values yet.
    pub fn new() -> Flat {
        Flat {
            slots: [0; MAX_FLAT_PARAMS],
            len: 0,
        }
    }

    /// Appends a value's bits.
    pub fn push(&mut self, bits: u64) {
        self.slots[self.len] = bits;
        self.len += 1;
    }

    /// How many values so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pads with zeros up to `len` values (a variant's unused payload).
    pub fn pad_to(&mut self, len: usize) {
        self.len = len;
    }

    /// Value `i` as an `i32`.
    pub fn i32(&self, i: usize) -> i32 {
        self.slots[i] as u32 as i32
    }

    /// Value `i` as an `i64`.
    pub fn i64(&self, i: usize) -> i64 {
        self.slots[i] as i64
    }

    /// Value `i` as an `f32`.
    pub fn f32(&self, i: usize) -> f32 {
        f32::from_bits(self.slots[i] as u32)
    }

    /// Value `i` as an `f64`.
    pub fn f64(&self, i: usize) -> f64 {
        f64::from_bits(self.slots[i])
    }
}

/// Core values being lifted, as zero-extended raw bits.
pub struct Slots {
    slots: [u64; 1],
    at: usize,
}

impl Slots {
    /// The one core value a call returned.
    pub fn one(core: impl CoreValue) -> Slots {
        Slots {
            slots: [core.bits()],
            at: 0,
        }
    }

    /// No core values (a result that flattens to none).
    pub fn none() -> Slots {
        Slots { slots: [0], at: 1 }
    }

    /// The next value's bits.
    pub fn take(&mut self) -> u64 {
        let bits = self.slots[self.at];
        self.at += 1;
        bits
    }

    /// Where the next value is.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Skips to value `at` (past a variant's unused payload).
    pub fn skip_to(&mut self, at: usize) {
        self.at = at;
    }
}

/// A core wasm value (`i32`, `i64`, `f32`, `f64`).
pub trait CoreValue {
    /// Its bits, zero-extended.
    fn bits(self) -> u64;
}

impl CoreValue for i32 {
    fn bits(self) -> u64 {
        self as u32 as u64
    }
}

impl CoreValue for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl CoreValue for f32 {
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}

impl CoreValue for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// Reads the `T` at `at`, unaligned.
///
/// # Safety
/// `at` holds `size_of::<T>()` readable bytes.
unsafe fn read<T: Copy>(at: *const u8) -> T {
    // SAFETY: as the caller promises.
    unsafe { (at as *const T).read_unaligned() }
}

/// Writes `v` at `at`, unaligned.
///
/// # Safety
/// `at` holds `size_of::<T>()` writable bytes.
unsafe fn write<T: Copy>(at: *mut u8, v: T) {
    // SAFETY: as the caller promises.
    unsafe { (at as *mut T).write_unaligned(v) }
}

/// A pointer as the canonical ABI's `i32`.
fn address<T: ?Sized>(p: *const T) -> u32 {
    p as *const u8 as usize as u32
}

macro_rules! scalar {
    ($t:ty, $size:expr, |$v:ident| $flat:expr, |$b:ident| $unflat:expr) => {
        impl Canon for $t {
            const SIZE: usize = $size;
            const ALIGN: usize = $size;
            const FLAT: usize = 1;
            const AS_IS: bool = true;
        }

        impl Lower for $t {
            unsafe fn store(&self, at: *mut u8, _: &mut Scratch) {
                // SAFETY: as the caller promises.
                unsafe { write(at, *self) }
            }

            fn flat(&self, out: &mut Flat, _: &mut Scratch) {
                let $v = *self;
                out.push($flat)
            }
        }

        impl Lift for $t {
            unsafe fn load(at: *const u8) -> Self {
                // SAFETY: as the caller promises; the VM wrote a valid value.
                unsafe { read(at) }
            }

            unsafe fn unflat(from: &mut Slots) -> Self {
                let $b = from.take();
                $unflat
            }
        }
    };
}

scalar!(u8, 1, |v| v as u64, |b| b as u8);
scalar!(u16, 2, |v| v as u64, |b| b as u16);
scalar!(u32, 4, |v| v as u64, |b| b as u32);
scalar!(u64, 8, |v| v, |b| b);
scalar!(i8, 1, |v| v as i32 as u32 as u64, |b| b as i8);
scalar!(i16, 2, |v| v as i32 as u32 as u64, |b| b as i16);
scalar!(i32, 4, |v| v as u32 as u64, |b| b as i32);
scalar!(i64, 8, |v| v as u64, |b| b as i64);
scalar!(f32, 4, |v| v.to_bits() as u64, |b| f32::from_bits(b as u32));
scalar!(f64, 8, |v| v.to_bits(), |b| f64::from_bits(b));
scalar!(bool, 1, |v| v as u64, |b| b as u32 != 0);
scalar!(char, 4, |v| v as u64, |b| char::from_u32(b as u32)
    .expect("the VM passes only Unicode scalar values"));

/// Nothing: the missing side of a `result`.
impl Canon for () {
    const SIZE: usize = 0;
    const ALIGN: usize = 1;
    const FLAT: usize = 0;
}

impl Lower for () {
    unsafe fn store(&self, _: *mut u8, _: &mut Scratch) {}

    fn flat(&self, _: &mut Flat, _: &mut Scratch) {}
}

impl Lift for () {
    unsafe fn load(_: *const u8) -> Self {}

    unsafe fn unflat(_: &mut Slots) -> Self {}
}

impl<T: Canon + ?Sized> Canon for &T {
    const SIZE: usize = T::SIZE;
    const ALIGN: usize = T::ALIGN;
    const FLAT: usize = T::FLAT;
}

impl<T: Lower + ?Sized> Lower for &T {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        // SAFETY: as the caller promises.
        unsafe { (**self).store(at, cx) }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        (**self).flat(out, cx)
    }
}

/// A list's pointer and length in the canonical layout: the slice itself
/// when its layout is Rust's, else a copy in the call's scratch memory.
fn lower_list<T: Lower>(items: &[T], cx: &mut Scratch) -> (u32, u32) {
    if T::AS_IS {
        return (address(items.as_ptr()), items.len() as u32);
    }
    let Some(size) = items.len().checked_mul(T::SIZE) else {
        panic!(
            "vm-sdk: a list argument of {} items is too large",
            items.len()
        )
    };
    let at = cx.alloc(size, T::ALIGN);
    for (i, item) in items.iter().enumerate() {
        // SAFETY: `at` holds `len` elements' room, aligned.
        unsafe { item.store(at.add(i * T::SIZE), cx) }
    }
    (address(at), items.len() as u32)
}

/// Stores a pointer and a length.
///
/// # Safety
/// `at` holds 8 writable bytes.
unsafe fn store_pair(at: *mut u8, (ptr, len): (u32, u32)) {
    // SAFETY: as the caller promises.
    unsafe {
        write(at, ptr);
        write(at.add(4), len);
    }
}

impl Canon for str {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
}

impl Lower for str {
    unsafe fn store(&self, at: *mut u8, _: &mut Scratch) {
        // SAFETY: as the caller promises.
        unsafe { store_pair(at, (address(self.as_ptr()), self.len() as u32)) }
    }

    fn flat(&self, out: &mut Flat, _: &mut Scratch) {
        out.push(address(self.as_ptr()) as u64);
        out.push(self.len() as u64);
    }
}

impl Canon for String {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
}

impl Lower for String {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        // SAFETY: as the caller promises.
        unsafe { self.as_str().store(at, cx) }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        self.as_str().flat(out, cx)
    }
}

impl Lift for String {
    unsafe fn load(at: *const u8) -> Self {
        // SAFETY: as the caller promises.
        unsafe { take_string(read(at), read(at.add(4))) }
    }

    unsafe fn unflat(from: &mut Slots) -> Self {
        let (ptr, len) = (from.take() as u32, from.take() as u32);
        // SAFETY: as the caller promises.
        unsafe { take_string(ptr, len) }
    }
}

/// The string the VM wrote at `ptr`, taken over.
///
/// # Safety
/// The VM allocated `len` UTF-8 bytes at `ptr` with `cabi_realloc`.
unsafe fn take_string(ptr: u32, len: u32) -> String {
    // SAFETY: as the caller promises; the VM checks the bytes are UTF-8.
    unsafe { String::from_utf8_unchecked(take_vec(ptr, len)) }
}

/// The list of `len` elements the VM wrote at `ptr`, taken over as it is
/// (`T`'s layout is Rust's).
///
/// # Safety
/// The VM allocated `len` elements at `ptr` with `cabi_realloc`.
unsafe fn take_vec<T>(ptr: u32, len: u32) -> Vec<T> {
    if len == 0 {
        return Vec::new();
    }
    let len = len as usize;
    // SAFETY: allocated by `cabi_realloc` as `Layout::array::<T>(len)`.
    unsafe { Vec::from_raw_parts(ptr as usize as *mut T, len, len) }
}

/// The list the VM wrote at `ptr`, element by element.
///
/// # Safety
/// As [`take_vec`], for `T`'s canonical layout.
unsafe fn lift_list<T: Lift>(ptr: u32, len: u32) -> Vec<T> {
    if T::AS_IS {
        // SAFETY: as the caller promises.
        return unsafe { take_vec(ptr, len) };
    }
    if len == 0 {
        return Vec::new();
    }
    let at = ptr as usize as *mut u8;
    let items = (0..len as usize)
        // SAFETY: each element lies inside the allocation.
        .map(|i| unsafe { T::load(at.add(i * T::SIZE)) })
        .collect();
    // SAFETY: allocated by `cabi_realloc` with this layout.
    unsafe {
        dealloc(
            at,
            Layout::from_size_align_unchecked(len as usize * T::SIZE, T::ALIGN),
        )
    };
    items
}

impl<T: Canon> Canon for [T] {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
}

impl<T: Lower> Lower for [T] {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        let list = lower_list(self, cx);
        // SAFETY: as the caller promises.
        unsafe { store_pair(at, list) }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        let (ptr, len) = lower_list(self, cx);
        out.push(ptr as u64);
        out.push(len as u64);
    }
}

impl<T: Canon> Canon for Vec<T> {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
}

impl<T: Lower> Lower for Vec<T> {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        // SAFETY: as the caller promises.
        unsafe { self.as_slice().store(at, cx) }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        self.as_slice().flat(out, cx)
    }
}

impl<T: Lift> Lift for Vec<T> {
    unsafe fn load(at: *const u8) -> Self {
        // SAFETY: as the caller promises.
        unsafe { lift_list(read(at), read(at.add(4))) }
    }

    unsafe fn unflat(from: &mut Slots) -> Self {
        let (ptr, len) = (from.take() as u32, from.take() as u32);
        // SAFETY: as the caller promises.
        unsafe { lift_list(ptr, len) }
    }
}

/// Writes a variant's discriminant, `size` bytes.
///
/// # Safety
/// `at` holds `size` writable bytes.
pub unsafe fn store_discriminant(at: *mut u8, size: usize, case: u32) {
    // SAFETY: as the caller promises.
    unsafe {
        match size {
            1 => write(at, case as u8),
            2 => write(at, case as u16),
            _ => write(at, case),
        }
    }
}

/// Reads a variant's discriminant, `size` bytes.
///
/// # Safety
/// `at` holds `size` readable bytes.
pub unsafe fn load_discriminant(at: *const u8, size: usize) -> u32 {
    // SAFETY: as the caller promises.
    unsafe {
        match size {
            1 => read::<u8>(at) as u32,
            2 => read::<u16>(at) as u32,
            _ => read(at),
        }
    }
}

/// Panics on a discriminant the type does not have, which the VM never
/// passes (it checks the plugin's).
#[cold]
pub fn bad_case(ty: &str, case: u32) -> ! {
    panic!("vm-sdk: case {case} of `{ty}`, which it does not have")
}

impl<T: Canon> Canon for Option<T> {
    const SIZE: usize = align_to(align_to(1, T::ALIGN) + T::SIZE, max(1, T::ALIGN));
    const ALIGN: usize = max(1, T::ALIGN);
    const FLAT: usize = 1 + T::FLAT;
}

impl<T: Lower> Lower for Option<T> {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        // SAFETY: as the caller promises; the payload lies inside.
        unsafe {
            match self {
                None => write(at, 0u8),
                Some(v) => {
                    write(at, 1u8);
                    v.store(at.add(align_to(1, T::ALIGN)), cx)
                }
            }
        }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        let start = out.len();
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.flat(out, cx)
            }
        }
        out.pad_to(start + Self::FLAT);
    }
}

impl<T: Lift> Lift for Option<T> {
    unsafe fn load(at: *const u8) -> Self {
        // SAFETY: as the caller promises.
        unsafe {
            match read::<u8>(at) {
                0 => None,
                1 => Some(T::load(at.add(align_to(1, T::ALIGN)))),
                c => bad_case("option", c as u32),
            }
        }
    }

    unsafe fn unflat(from: &mut Slots) -> Self {
        let start = from.position();
        let v = match from.take() as u32 {
            0 => None,
            // SAFETY: as the caller promises.
            1 => Some(unsafe { T::unflat(from) }),
            c => bad_case("option", c),
        };
        from.skip_to(start + Self::FLAT);
        v
    }
}

impl<T: Canon, E: Canon> Canon for Result<T, E> {
    const SIZE: usize = align_to(
        align_to(1, max(T::ALIGN, E::ALIGN)) + max(T::SIZE, E::SIZE),
        max(T::ALIGN, E::ALIGN),
    );
    const ALIGN: usize = max(T::ALIGN, E::ALIGN);
    const FLAT: usize = 1 + max(T::FLAT, E::FLAT);
}

impl<T: Lower, E: Lower> Lower for Result<T, E> {
    unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
        let payload = align_to(1, Self::ALIGN);
        // SAFETY: as the caller promises; the payload lies inside.
        unsafe {
            match self {
                Ok(v) => {
                    write(at, 0u8);
                    v.store(at.add(payload), cx)
                }
                Err(e) => {
                    write(at, 1u8);
                    e.store(at.add(payload), cx)
                }
            }
        }
    }

    fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
        let start = out.len();
        match self {
            Ok(v) => {
                out.push(0);
                v.flat(out, cx)
            }
            Err(e) => {
                out.push(1);
                e.flat(out, cx)
            }
        }
        out.pad_to(start + Self::FLAT);
    }
}

impl<T: Lift, E: Lift> Lift for Result<T, E> {
    unsafe fn load(at: *const u8) -> Self {
        let payload = align_to(1, Self::ALIGN);
        // SAFETY: as the caller promises.
        unsafe {
            match read::<u8>(at) {
                0 => Ok(T::load(at.add(payload))),
                1 => Err(E::load(at.add(payload))),
                c => bad_case("result", c as u32),
            }
        }
    }

    unsafe fn unflat(from: &mut Slots) -> Self {
        let start = from.position();
        // SAFETY: as the caller promises.
        let v = unsafe {
            match from.take() as u32 {
                0 => Ok(T::unflat(from)),
                1 => Err(E::unflat(from)),
                c => bad_case("result", c),
            }
        };
        from.skip_to(start + Self::FLAT);
        v
    }
}

macro_rules! tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Canon),+> Canon for ($($t,)+) {
            const SIZE: usize = record_size(&[$(($t::SIZE, $t::ALIGN)),+]);
            const ALIGN: usize = record_align(&[$(($t::SIZE, $t::ALIGN)),+]);
            const FLAT: usize = 0 $(+ $t::FLAT)+;
        }

        impl<$($t: Lower),+> Lower for ($($t,)+) {
            unsafe fn store(&self, at: *mut u8, cx: &mut Scratch) {
                let mut offset = 0;
                $(
                    offset = align_to(offset, $t::ALIGN);
                    // SAFETY: as the caller promises; the field lies inside.
                    unsafe { self.$i.store(at.add(offset), cx) };
                    offset += $t::SIZE;
                )+
                let _ = offset;
            }

            fn flat(&self, out: &mut Flat, cx: &mut Scratch) {
                $(self.$i.flat(out, cx);)+
            }
        }

        impl<$($t: Lift),+> Lift for ($($t,)+) {
            unsafe fn load(at: *const u8) -> Self {
                let mut offset = 0;
                // SAFETY: as the caller promises; each field lies inside.
                ($(unsafe {
                    offset = align_to(offset, $t::ALIGN);
                    let v = $t::load(at.add(offset));
                    offset += $t::SIZE;
                    let _ = offset;
                    v
                },)+)
            }

            unsafe fn unflat(from: &mut Slots) -> Self {
                // SAFETY: as the caller promises.
                ($(unsafe { $t::unflat(from) },)+)
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
