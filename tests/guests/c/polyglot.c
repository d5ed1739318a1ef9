/* Services a Rust process spawns from this module to check that C and Rust
 * agree on postcard, field by field:
 *
 *   serve_echo:      decode each Sample and encode it again, unchanged;
 *   serve_transform: decode each Sample and reply with a transformation.
 *
 * struct Sample { count: u32, delta: i64, name: String, bytes: Vec<u8>,
 *                 note: Option<String>, shape: Shape }
 * enum Shape { Point, Circle(u32), Rect { w: u32, h: u32 } }
 *
 * Replies go to the sender with the request's tag; a request that does not
 * decode gets an empty reply tagged 0. */
#include <stdio.h>
#include <vm.h>

typedef struct sample {
    uint32_t count;
    int64_t delta;
    const char *name;
    size_t name_len;
    const uint8_t *bytes;
    size_t bytes_len;
    bool has_note;
    const char *note;
    size_t note_len;
    uint32_t shape, a, b;
} sample_t;

static vm_status_t decode(const uint8_t *data, size_t len, sample_t *s) {
    vm_reader_t r;
    vm_reader_init(&r, data, len);
    s->count = vm_get_u32(&r);
    s->delta = vm_get_i64(&r);
    s->name_len = vm_get_str(&r, &s->name);
    s->bytes_len = vm_get_bytes(&r, &s->bytes);
    s->has_note = vm_get_option(&r);
    if (s->has_note) s->note_len = vm_get_str(&r, &s->note);
    s->shape = vm_get_variant(&r);
    if (s->shape == 1) s->a = vm_get_u32(&r);
    else if (s->shape == 2) {
        s->a = vm_get_u32(&r);
        s->b = vm_get_u32(&r);
    } else if (s->shape != 0) return VM_E_DECODE;
    return vm_reader_finish(&r);
}

static void encode_shape(vm_writer_t *w, uint32_t shape, uint32_t a, uint32_t b) {
    vm_put_variant(w, shape);
    if (shape >= 1) vm_put_u64(w, a);
    if (shape == 2) vm_put_u64(w, b);
}

static void echo(vm_writer_t *w, const sample_t *s) {
    vm_put_u64(w, s->count);
    vm_put_i64(w, s->delta);
    vm_put_bytes(w, s->name, s->name_len);
    vm_put_bytes(w, s->bytes, s->bytes_len);
    vm_put_option(w, s->has_note);
    if (s->has_note) vm_put_bytes(w, s->note, s->note_len);
    encode_shape(w, s->shape, s->a, s->b);
}

static uint8_t scratch[70000];

static void transform(vm_writer_t *w, const sample_t *s) {
    vm_put_u64(w, (uint32_t)(s->count + 1));
    vm_put_i64(w, (int64_t)((uint64_t)s->delta - 1));
    /* The name in ASCII upper case. */
    for (size_t i = 0; i < s->name_len && i < sizeof scratch; i++) {
        char c = s->name[i];
        scratch[i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    vm_put_bytes(w, scratch, s->name_len);
    /* The bytes reversed. */
    for (size_t i = 0; i < s->bytes_len && i < sizeof scratch; i++) scratch[i] = s->bytes[s->bytes_len - 1 - i];
    vm_put_bytes(w, scratch, s->bytes_len);
    /* Some(note + "!"), or Some("none"). */
    vm_put_option(w, true);
    if (s->has_note) {
        for (size_t i = 0; i < s->note_len && i < sizeof scratch; i++) scratch[i] = (uint8_t)s->note[i];
        scratch[s->note_len] = '!';
        vm_put_bytes(w, scratch, s->note_len + 1);
    } else {
        vm_put_str(w, "none");
    }
    /* Point -> Circle(1), Circle(r) -> Rect { w: r, h: r }, Rect -> Point. */
    if (s->shape == 0) encode_shape(w, 1, 1, 0);
    else if (s->shape == 1) encode_shape(w, 2, s->a, s->a);
    else encode_shape(w, 0, 0, 0);
}

static uint8_t in[70000], out[140000];

static void serve(void (*reply)(vm_writer_t *, const sample_t *)) {
    vm_message_t m;
    /* The init message carries nothing we need. */
    vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, in, sizeof in, &m);
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, in, sizeof in, &m) == VM_OK) {
        sample_t s;
        if (decode(m.data, m.len, &s) != VM_OK) {
            vm_send(m.envelope.sender, 0, "", 0);
            continue;
        }
        vm_writer_t w;
        vm_writer_init(&w, out, sizeof out);
        reply(&w, &s);
        vm_send(m.envelope.sender, m.envelope.tag, w.data, w.len);
    }
}

/* Decodes each message as a sequence length followed by that many bytes and
 * replies with the length (a u32), or with an empty reply tagged 0 if the
 * length does not decode (too long a varint, or more than the bytes left). */
__attribute__((export_name("serve_len"))) void serve_len(void) {
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, in, sizeof in, &m);
    while (vm_receive(0, 0, VM_MESSAGE_KINDS_DATA, VM_FOREVER, in, sizeof in, &m) == VM_OK) {
        vm_reader_t r;
        vm_reader_init_message(&r, &m);
        size_t n = vm_get_len(&r);
        if (vm_reader_status(&r) != VM_OK) {
            vm_send(m.envelope.sender, 0, "", 0);
            continue;
        }
        vm_writer_t w;
        vm_writer_init(&w, out, sizeof out);
        vm_put_u64(&w, n);
        vm_send(m.envelope.sender, m.envelope.tag, w.data, w.len);
    }
}

__attribute__((export_name("serve_echo"))) void serve_echo(void) { serve(echo); }
__attribute__((export_name("serve_transform"))) void serve_transform(void) { serve(transform); }

/* Calls a Rust server (vm_sdk::server) with vm_request: its init message is
 * postcard (server: u64, reply_to: u64, n: u32); it sends `reply_to` the
 * reply (a u32), or 0xfffffffd if the server had ended (down, noproc). */
__attribute__((export_name("call_server"))) void call_server(void) {
    vm_message_t m;
    vm_receive(0, 0, VM_MESSAGE_KINDS_INIT, VM_FOREVER, in, sizeof in, &m);
    vm_reader_t r;
    vm_reader_init_message(&r, &m);
    vm_pid_t server = vm_get_u64(&r);
    vm_pid_t reply_to = vm_get_u64(&r);
    uint32_t n = vm_get_u32(&r);
    if (vm_reader_finish(&r) != VM_OK) vm_exit("call_server: a malformed init message");
    vm_writer_t w;
    vm_request_begin(&w, out, sizeof out);
    vm_put_u64(&w, n);
    vm_message_t reply;
    vm_reason_t why;
    uint32_t result = 0xffffffffu;
    vm_status_t s = vm_request(server, &w, VM_FOREVER, in, sizeof in, &reply, &why);
    if (s == VM_OK) {
        vm_reader_t rr;
        vm_reader_init_message(&rr, &reply);
        result = vm_get_u32(&rr);
        if (vm_reader_finish(&rr) != VM_OK) result = 0xfffffffeu;
    } else if (s == VM_E_DOWN && why.kind == VM_EXIT_REASON_NOPROC) {
        result = 0xfffffffdu;
    }
    vm_writer_init(&w, out, sizeof out);
    vm_put_u64(&w, result);
    vm_send(reply_to, 0, w.data, w.len);
}

int main(void) {
    fprintf(stderr, "polyglot.wasm is spawned by other processes at serve_echo or serve_transform\n");
    return 2;
}
