/* The postcard codec: the message format shared by every SDK. Writers never
 * write past their buffer and readers never read past theirs; both keep a
 * sticky error flag instead. */
#include "vm.h"

#include "sdk_error.h"

void vm_writer_init(vm_writer_t *w, void *buf, size_t cap) {
    w->data = buf;
    w->cap = cap;
    w->len = 0;
    w->needed = 0;
    w->overflow = false;
}

static void put_raw(vm_writer_t *w, const void *src, size_t n) {
    w->needed = n > SIZE_MAX - w->needed ? SIZE_MAX : w->needed + n;
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) w->data[w->len + i] = s[i];
    w->len += n;
}

void vm_put_u8(vm_writer_t *w, uint8_t v) { put_raw(w, &v, 1); }
void vm_put_i8(vm_writer_t *w, int8_t v) { put_raw(w, &v, 1); }
void vm_put_bool(vm_writer_t *w, bool v) { vm_put_u8(w, v ? 1 : 0); }

void vm_put_u64(vm_writer_t *w, uint64_t v) {
    uint8_t buf[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        buf[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    put_raw(w, buf, n);
}

void vm_put_i64(vm_writer_t *w, int64_t v) { vm_put_u64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void vm_put_f32(vm_writer_t *w, float v) {
    uint32_t bits;
    __builtin_memcpy(&bits, &v, 4);
    uint8_t b[4] = {bits, bits >> 8, bits >> 16, bits >> 24};
    put_raw(w, b, 4);
}

void vm_put_f64(vm_writer_t *w, double v) {
    uint64_t bits;
    __builtin_memcpy(&bits, &v, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
    put_raw(w, b, 8);
}

void vm_put_bytes(vm_writer_t *w, const void *data, size_t len) {
    vm_put_u64(w, len);
    put_raw(w, data, len);
}

void vm_put_str(vm_writer_t *w, const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    vm_put_bytes(w, s, n);
}

void vm_put_len(vm_writer_t *w, size_t count) { vm_put_u64(w, count); }
void vm_put_option(vm_writer_t *w, bool present) { vm_put_bool(w, present); }
void vm_put_variant(vm_writer_t *w, uint32_t index) { vm_put_u64(w, index); }

vm_status_t vm_writer_status(const vm_writer_t *w) {
    if (!w->overflow) return VM_OK;
    return vm_sdk_fail_(VM_E_BUFFER_TOO_SMALL, "the encoding needs %u bytes, the writer's buffer holds %u",
                        (uint64_t)w->needed, (uint64_t)w->cap);
}

void vm_reader_init_message(vm_reader_t *r, const vm_message_t *m) {
    vm_reader_init(r, m->data, m->len);
    r->error = m->truncated;
}

void vm_reader_init(vm_reader_t *r, const void *data, size_t len) {
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->error = false;
}

static bool take(vm_reader_t *r, size_t n, const uint8_t **p) {
    if (r->error || n > r->len - r->pos) {
        r->error = true;
        return false;
    }
    *p = r->data + r->pos;
    r->pos += n;
    return true;
}

uint8_t vm_get_u8(vm_reader_t *r) {
    const uint8_t *p;
    return take(r, 1, &p) ? *p : 0;
}

int8_t vm_get_i8(vm_reader_t *r) { return (int8_t)vm_get_u8(r); }

/* A varint of at most `bits` bits; anything longer or larger is an error. */
static uint64_t varint(vm_reader_t *r, unsigned bits) {
    uint64_t v = 0;
    unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0; i < max_bytes; i++) {
        uint8_t byte = vm_get_u8(r);
        if (r->error) return 0;
        unsigned shift = 7 * i;
        uint64_t part = (uint64_t)(byte & 0x7f);
        if (shift + 7 > bits && (part >> (bits - shift)) != 0) break; /* overflows the type */
        v |= part << shift;
        if (!(byte & 0x80)) return v;
    }
    r->error = true;
    return 0;
}

uint16_t vm_get_u16(vm_reader_t *r) { return (uint16_t)varint(r, 16); }
uint32_t vm_get_u32(vm_reader_t *r) { return (uint32_t)varint(r, 32); }
uint64_t vm_get_u64(vm_reader_t *r) { return varint(r, 64); }

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int16_t vm_get_i16(vm_reader_t *r) { return (int16_t)unzigzag(varint(r, 16)); }
int32_t vm_get_i32(vm_reader_t *r) { return (int32_t)unzigzag(varint(r, 32)); }
int64_t vm_get_i64(vm_reader_t *r) { return unzigzag(varint(r, 64)); }

bool vm_get_bool(vm_reader_t *r) {
    uint8_t b = vm_get_u8(r);
    if (b > 1) r->error = true;
    return b == 1;
}

float vm_get_f32(vm_reader_t *r) {
    const uint8_t *p;
    if (!take(r, 4, &p)) return 0;
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    __builtin_memcpy(&v, &bits, 4);
    return v;
}

double vm_get_f64(vm_reader_t *r) {
    const uint8_t *p;
    if (!take(r, 8, &p)) return 0;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits |= (uint64_t)p[i] << (8 * i);
    double v;
    __builtin_memcpy(&v, &bits, 8);
    return v;
}

size_t vm_get_bytes(vm_reader_t *r, const uint8_t **data) {
    uint64_t n = varint(r, 64);
    if (r->error || n > r->len - r->pos) {
        r->error = true;
        *data = 0;
        return 0;
    }
    take(r, (size_t)n, data);
    return (size_t)n;
}

/* Whether bytes are well-formed UTF-8 (as postcard's strings must be). */
bool vm_utf8_valid(const void *bytes, size_t n) {
    const uint8_t *s = bytes;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; }
        else return false;
        if (extra > n - i - 1) return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += extra + 1;
    }
    return true;
}

size_t vm_get_str(vm_reader_t *r, const char **s) {
    const uint8_t *p;
    size_t n = vm_get_bytes(r, &p);
    if (r->error || !vm_utf8_valid(p, n)) {
        r->error = true;
        *s = 0;
        return 0;
    }
    *s = (const char *)p;
    return n;
}

size_t vm_get_len(vm_reader_t *r) {
    /* A 32-bit varint (a longer one is an error, not a truncated count), and
     * no more elements than bytes left: each takes at least one, so a short
     * hostile message cannot make a decoder allocate much. */
    uint64_t n = varint(r, 32);
    if (r->error || n > r->len - r->pos) {
        r->error = true;
        return 0;
    }
    return (size_t)n;
}

bool vm_get_option(vm_reader_t *r) { return vm_get_bool(r); }
uint32_t vm_get_variant(vm_reader_t *r) { return vm_get_u32(r); }

vm_status_t vm_reader_status(const vm_reader_t *r) {
    if (!r->error) return VM_OK;
    return vm_sdk_fail_(VM_E_DECODE, "the bytes did not decode (stopped at byte %u of %u)", (uint64_t)r->pos,
                        (uint64_t)r->len);
}

vm_status_t vm_reader_finish(const vm_reader_t *r) {
    vm_status_t s = vm_reader_status(r);
    if (s != VM_OK || r->pos == r->len) return s;
    return vm_sdk_fail_(VM_E_DECODE, "the value took %u of the %u bytes, and the rest were left over",
                        (uint64_t)r->pos, (uint64_t)r->len);
}
