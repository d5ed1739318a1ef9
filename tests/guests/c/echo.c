/* Calls the echo plugin through echo.h with values at the edges of every
 * WIT type and checks each comes back unchanged: the C bindings lower and
 * lift as the VM and wit-bindgen (the plugin's) do. Prints one line per
 * function, as the Rust echo guest does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "echo.c:%d: check failed: %s\n", __LINE__, #c);                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static bool same_string(echo_string_t a, echo_string_t b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_mixed(const echo_mixed_t *a, const echo_mixed_t *b) {
    if (a->tag != b->tag) return false;
    switch (a->tag) {
    case ECHO_MIXED_SINGLE:
        return memcmp(&a->val.single, &b->val.single, 4) == 0;
    case ECHO_MIXED_WIDE:
        return a->val.wide == b->val.wide;
    case ECHO_MIXED_DOUBLE:
        return a->val.double_ == b->val.double_;
    case ECHO_MIXED_TEXT:
        return same_string(a->val.text, b->val.text);
    case ECHO_MIXED_MAYBE:
        if (a->val.maybe.len != b->val.maybe.len) return false;
        for (size_t i = 0; i < a->val.maybe.len; i++) {
            echo_option_string_t x = a->val.maybe.ptr[i], y = b->val.maybe.ptr[i];
            if (x.is_some != y.is_some || (x.is_some && !same_string(x.val, y.val))) return false;
        }
        return true;
    default:
        return true;
    }
}

static bool same_scalars(const echo_scalars_t *a, const echo_scalars_t *b) {
    return a->a == b->a && a->b == b->b && a->c == b->c && a->d == b->d &&
           memcmp(&a->e, &b->e, 4) == 0 && a->f == b->f && a->g == b->g && a->h == b->h &&
           a->i == b->i && a->j == b->j;
}

int main(void) {

    echo_scalars_t s[2] = {
        {-128, 65535, -32768, 0x10FFFF, -0.0f, UINT64_MAX, INT64_MIN, true, 2.2250738585072014e-308, 255},
        {-1, 0, -2, 0xE9, 1.0f / 0.0f, (uint64_t)1 << 63, -1, false, -1.5e300, 0},
    };
    for (int i = 0; i < 2; i++) {
        echo_scalars_t back = echo_api_echo_scalars(&s[i]);
        CHECK(same_scalars(&back, &s[i]));
    }
    printf("scalars: ok\n");

    echo_option_string_t maybes[3];
    maybes[0].is_some = true;
    maybes[0].val = echo_string_of("x");
    maybes[1].is_some = false;
    maybes[2].is_some = true;
    maybes[2].val = echo_string_of("");
    echo_mixed_t cases[7];
    memset(cases, 0, sizeof cases);
    cases[0].tag = ECHO_MIXED_SINGLE;
    cases[0].val.single = -2.5f;
    cases[1].tag = ECHO_MIXED_WIDE;
    cases[1].val.wide = UINT64_MAX - 1;
    cases[2].tag = ECHO_MIXED_DOUBLE;
    cases[2].val.double_ = 1.7976931348623157e308;
    cases[3].tag = ECHO_MIXED_TEXT;
    cases[3].val.text.ptr = (char *)"a\0b \xc3\xa9";
    cases[3].val.text.len = 6;
    cases[4].tag = ECHO_MIXED_MAYBE;
    cases[4].val.maybe.ptr = maybes;
    cases[4].val.maybe.len = 3;
    cases[5].tag = ECHO_MIXED_MAYBE;
    cases[6].tag = ECHO_MIXED_NOTHING;
    for (int i = 0; i < 7; i++) {
        echo_mixed_t back = echo_api_echo_mixed(&cases[i]);
        CHECK(same_mixed(&back, &cases[i]));
        echo_mixed_free(&back);
    }
    printf("mixed: ok\n");

    echo_nine_t nines[3] = {0, ECHO_NINE_F8 | ECHO_NINE_F0, 0x1FF};
    echo_seventeen_t seventeens[3] = {0, ECHO_SEVENTEEN_G16 | ECHO_SEVENTEEN_G1, 0x1FFFF};
    for (int i = 0; i < 3; i++) {
        echo_tuple2_nine_seventeen_t back = echo_api_echo_flags(nines[i], seventeens[i]);
        CHECK(back.f0 == nines[i] && back.f1 == seventeens[i]);
    }
    printf("flags: ok\n");

    echo_string_t one[1] = {echo_string_of("one")};
    echo_string_t two[2] = {echo_string_of("two"), echo_string_of("")};
    echo_list_string_t names[3] = {{NULL, 0}, {one, 1}, {two, 2}};
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    echo_tuple2_s32_f32_t points[2] = {{INT32_MIN, 0.5f}, {7, -0.0f}};
    uint8_t err_bytes[3] = {1, 2, 3};
    echo_bag_t bag;
    bag.names.ptr = names;
    bag.names.len = 3;
    bag.bytes.ptr = bytes;
    bag.bytes.len = 256;
    bag.points.ptr = points;
    bag.points.len = 2;
    bag.cases.ptr = cases;
    bag.cases.len = 7;
    for (int shape = 0; shape < 4; shape++) {
        memset(&bag.nested, 0, sizeof bag.nested);
        bag.nested.is_some = shape > 0;
        bag.nested.val.is_some = shape > 1;
        bag.nested.val.val.is_err = shape == 3;
        if (shape == 2) bag.nested.val.val.val.ok = echo_string_of("ok");
        if (shape == 3) {
            bag.nested.val.val.val.err.ptr = err_bytes;
            bag.nested.val.val.val.err.len = 3;
        }
        echo_bag_t back = echo_api_echo_bag(&bag);
        CHECK(back.names.len == 3 && back.names.ptr[0].len == 0 && back.names.ptr[1].len == 1);
        CHECK(same_string(back.names.ptr[1].ptr[0], one[0]));
        CHECK(back.names.ptr[2].len == 2 && same_string(back.names.ptr[2].ptr[0], two[0]));
        CHECK(same_string(back.names.ptr[2].ptr[1], two[1]));
        CHECK(back.bytes.len == 256 && memcmp(back.bytes.ptr, bytes, 256) == 0);
        CHECK(back.points.len == 2 && back.points.ptr[0].f0 == INT32_MIN);
        CHECK(memcmp(&back.points.ptr[1].f1, &points[1].f1, 4) == 0);
        CHECK(back.cases.len == 7);
        for (int i = 0; i < 7; i++) CHECK(same_mixed(&back.cases.ptr[i], &cases[i]));
        CHECK(back.nested.is_some == bag.nested.is_some);
        CHECK(back.nested.val.is_some == bag.nested.val.is_some);
        if (shape == 2) CHECK(!back.nested.val.val.is_err && same_string(back.nested.val.val.val.ok, echo_string_of("ok")));
        if (shape == 3) {
            CHECK(back.nested.val.val.is_err && back.nested.val.val.val.err.len == 3);
            CHECK(memcmp(back.nested.val.val.val.err.ptr, err_bytes, 3) == 0);
        }
        echo_bag_free(&back);
        CHECK(back.names.ptr == NULL && back.cases.len == 0);
    }
    printf("bag: ok\n");

    uint32_t list[3] = {1, 2, 3};
    echo_option_u8_t nine;
    nine.is_some = true;
    nine.val = 9;
    echo_all_t all = echo_api_wide(200, -100, 60000, -30000, 4000000000u, -2000000000, UINT64_MAX,
                                   INT64_MIN + 1, 3.25f, -7.125, 0x1F980, true, "wide", 4, list, 3,
                                   &nine, -1);
    CHECK(all.a == 200 && all.b == -100 && all.c == 60000 && all.d == -30000);
    CHECK(all.e == 4000000000u && all.f == -2000000000 && all.g == UINT64_MAX);
    CHECK(all.h == INT64_MIN + 1 && all.i == 3.25f && all.j == -7.125 && all.k == 0x1F980);
    CHECK(all.l && same_string(all.m, echo_string_of("wide")) && all.n.len == 3);
    CHECK(memcmp(all.n.ptr, list, sizeof list) == 0 && all.o.is_some && all.o.val == 9 && all.p == -1);
    echo_all_free(&all);
    printf("wide: ok\n");

    echo_option_u8_t none;
    memset(&none, 0, sizeof none);
    nine.val = 0;
    CHECK(echo_api_small(&nine));
    CHECK(!echo_api_small(&none));
    printf("small: ok\n");

    echo_list_string_t many = echo_api_repeat("\xc3\xa9", 2, 10000);
    CHECK(many.len == 10000);
    for (size_t i = 0; i < many.len; i++) CHECK(same_string(many.ptr[i], echo_string_of("\xc3\xa9")));
    echo_list_string_free(&many);
    echo_list_string_t none_back = echo_api_repeat("", 0, 0);
    CHECK(none_back.len == 0);
    echo_list_string_free(&none_back);
    printf("repeat: ok\n");
    return 0;
}
