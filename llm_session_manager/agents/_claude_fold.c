/* The common Claude Code transcript lines folded in C: an optional accelerator of agents/claude_code.py.
 *
 * A cold scan spends most of its time in two steps per line: decoding the JSON (msgspec) and folding
 * the decoded line into the file's state in Python (~9 us a line, ~190,000 lines per 285 MB). This
 * module does both for the lines that make up nearly all of a transcript: assistant replies (usage,
 * tool calls), user lines that carry only tool results, and lines of other types read only for their
 * time and place. It changes the very same state dict, with the same keys and values, as
 * claude_code._apply_typed would.
 *
 * Everything else is handed back to Python, line by line, before anything is changed: a prompt, an
 * interruption, an API error, a failed tool result, a logged cost, a fork's file, a system or title
 * line, an attachment, a count that is not a plain integer in range, a timestamp in another form, any
 * value of a type the Python fold would treat specially, and any line that is not strictly valid JSON
 * (invalid UTF-8, a lone surrogate, a control character, a duplicate key the fold reads, nesting
 * deeper than MAX_DEPTH...). Python then decodes and folds that line as it always has, so this module
 * never has to agree with a decoder on anything but valid JSON of the expected shape.
 * tests/test_claude_fold.py holds the two folds to the same states, on real and generated
 * transcripts and on many thousands of mutated lines.
 *
 * It also lists the transcripts of a project folder (walk, below), the step every listing of the
 * history starts with.
 *
 * The text is hostile input: every read is bounded by the line's end, nothing is copied into a fixed
 * buffer, and a string is decoded into a buffer of its own raw length (a JSON escape never decodes
 * into more bytes than it takes).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#define WALK 1 /* the transcript folders listed here (walk) */
#endif
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define SCAN16 1 /* 16 bytes at a time (every x86-64 has SSE2) */
#endif

#define MAX_DEPTH 64
#define MAX_BLOCKS 64
#define MAX_DIGITS 15 /* a count of 16 digits or more may pass MAX_COUNT: Python decides */

/* --- configuration, set once by claude_code.py (configure) ------------------------------------------ */

static Py_ssize_t recent_keep = -1, ctx_history = -1, cmds_keep = -1, command_chars = -1, fails_keep = -1,
                  interrupts_keep = -1;
static long long max_count = -1;
static PyObject *no_branch, *synthetic, *dict_types, *interrupt_prefix, *noise_prefixes, *clear_command;
static PyObject *better_fn, *fresh_context_fn, *title_fn, *minute_fn, *newline;
static Py_ssize_t e_ts = -1; /* where an entry keeps its timestamp (claude_code.E_TS) */

/* Keys of the state dict (claude_code.new_data), and the values the fold compares. */
static PyObject *k_lines, *k_first_ts, *k_last_ts, *k_branch, *k_cwd, *k_recent, *k_entries,
    *k_tool_calls, *k_cmds, *k_ctx, *k_ctx_hist, *k_peak_ctx, *k_last_model, *k_fork, *k_prompts, *k_turns,
    *k_first_prompt, *k_interruptions, *k_recent_int, *k_tool_errors, *k_fails;

/* --- the scanner ------------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *s; /* a string's raw text between its quotes */
    Py_ssize_t n;
    int esc;   /* it holds an escape */
    int ascii; /* every byte is ASCII (escapes included as written) */
} Str;

enum { ABSENT = 0, JNULL, JTRUE, JFALSE, JSTR, JINT, JNUM, JOBJ, JARR };

typedef struct {
    int kind;
    Str str;      /* JSTR */
    long long i;  /* JINT: a non-negative integer of at most MAX_DIGITS digits */
} Val;

typedef struct {
    const unsigned char *p, *end;
    int depth;
    int strict; /* a value msgspec decodes (UTF-8 checked); else one it skips (UTF-8 not checked) */
} Scan;

static inline void skip_ws(Scan *sc) {
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\r' || *sc->p == '\n'))
        sc->p++;
}

/* The bytes of w (little-endian: the first byte lowest) that are '"', '\\' or below 0x20 (or, when `high`,
 * above 0x7f), as each byte's top bit. A borrow may flag a byte above a true one, never one below: the
 * lowest flag is always a true one. */
static inline uint64_t swar_special(uint64_t w, int high) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
    if (high) hit |= w;
    return hit & highs;
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAGGED(m) (__builtin_ctzll(m) >> 3) /* the first special byte itself */
#else
#define FIRST_FLAGGED(m) 0 /* the bytes one at a time from the word's start */
#endif

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence at p (a lead byte >= 0x80): its length, or 0 when it is not well formed (overlong,
 * a surrogate, above U+10FFFF, cut short). */
static Py_ssize_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    Py_ssize_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[2] & 0xC0) != 0x80) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        return (p[1] >= lo && p[1] <= hi) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        return (p[1] >= lo && p[1] <= hi) ? 4 : 0;
    }
    return 0;
}

/* A string at sc->p (its opening quote); 1, or 0 when it is not valid. Escapes and control characters
 * are checked always, UTF-8 only when sc->strict: msgspec checks the UTF-8 of the values it decodes,
 * never of those it skips (and a line it accepts must be accepted here, or the two folds differ). */
static int scan_string(Scan *sc, Str *out) {
    const unsigned char *p = sc->p + 1, *end = sc->end;
    int esc = 0, ascii = 1, strict = sc->strict;
    out->s = p;
    for (;;) {
#ifdef SCAN16
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                       _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f)); /* below 0x20 */
            int mask = _mm_movemask_epi8(hit) | (strict ? _mm_movemask_epi8(v) : 0);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto special;
            }
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);
            if ((m = swar_special(w, strict))) {
                p += FIRST_FLAGGED(m);
                break;
            }
            p += 8;
        }
#ifdef SCAN16
    special:
#endif
        if (p >= end) return 0;
        unsigned c = *p;
        if (c == '"') break;
        if (c == '\\') {
            esc = 1;
            if (end - p < 2) return 0;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u': {
                unsigned u;
                if (end - p < 6 || !hex4(p + 2, &u)) return 0;
                p += 6;
                if (u >= 0xDC00 && u <= 0xDFFF) return 0; /* a lone low surrogate */
                if (u >= 0xD800 && u <= 0xDBFF) {         /* must be followed by a low one */
                    unsigned lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo)) return 0;
                    if (lo < 0xDC00 || lo > 0xDFFF) return 0;
                    p += 6;
                }
                break;
            }
            default:
                return 0;
            }
        } else if (c < 0x20) {
            return 0;
        } else if (c < 0x80) {
            p++;
        } else if (!strict) {
            p++;
        } else {
            Py_ssize_t n = utf8_len(p, end);
            if (!n) return 0;
            ascii = 0;
            p += n;
        }
    }
    out->n = p - out->s;
    out->esc = esc;
    out->ascii = strict && ascii; /* unknown when skipped: the SWAR loop passes over bytes above 0x7f */
    sc->p = p + 1;
    return 1;
}

/* A number, strictly by JSON's grammar; JINT with its value when it is a plain non-negative integer of
 * at most MAX_DIGITS digits, else JNUM. A value msgspec decodes (sc->strict) must also fit a double when
 * it has a fraction or an exponent (msgspec refuses the line otherwise): one that might not is left to
 * Python. */
static int scan_number(Scan *sc, Val *v) {
    const unsigned char *p = sc->p, *end = sc->end, *digits;
    int plain = 1, exp_sign = 1;
    long exp = 0;
    if (p < end && *p == '-') { plain = 0; p++; }
    digits = p;
    if (p >= end) return 0;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return 0;
    Py_ssize_t ndigits = p - digits;
    if (p < end && *p == '.') {
        plain = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return 0;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        plain = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) exp_sign = *p++ == '-' ? -1 : 1;
        if (p >= end || *p < '0' || *p > '9') return 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (exp < 100000) exp = exp * 10 + (*p - '0');
    }
    if (sc->strict && !plain && ndigits + exp_sign * exp > 300) return 0; /* maybe beyond DBL_MAX */
    if (plain && ndigits <= MAX_DIGITS) {
        long long i = 0;
        for (const unsigned char *d = digits; d < digits + ndigits; d++) i = i * 10 + (*d - '0');
        v->kind = JINT;
        v->i = i;
    } else {
        v->kind = JNUM;
    }
    sc->p = p;
    return 1;
}

static int lit(Scan *sc, const char *word, Py_ssize_t n) {
    if (sc->end - sc->p < n || memcmp(sc->p, word, (size_t)n) != 0) return 0;
    sc->p += n;
    return 1;
}

static int skip_value(Scan *sc);

/* An object or array not read: validated, skipped. */
static int skip_container(Scan *sc, unsigned char close) {
    if (++sc->depth > MAX_DEPTH) return 0;
    sc->p++;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == close) { sc->p++; sc->depth--; return 1; }
    for (;;) {
        if (close == '}') {
            Str key;
            if (sc->p >= sc->end || *sc->p != '"' || !scan_string(sc, &key)) return 0;
            skip_ws(sc);
            if (sc->p >= sc->end || *sc->p != ':') return 0;
            sc->p++;
            skip_ws(sc);
        }
        if (!skip_value(sc)) return 0;
        skip_ws(sc);
        if (sc->p >= sc->end) return 0;
        if (*sc->p == ',') { sc->p++; skip_ws(sc); continue; }
        if (*sc->p == close) { sc->p++; sc->depth--; return 1; }
        return 0;
    }
}

/* Any value at sc->p (no leading whitespace), into v when v is given (its kind; a string's text; an
 * integer's value). Objects and arrays are skipped here: JOBJ / JARR. */
static int scan_value(Scan *sc, Val *v) {
    Val tmp;
    if (!v) v = &tmp;
    if (sc->p >= sc->end) return 0;
    switch (*sc->p) {
    case '"': v->kind = JSTR; return scan_string(sc, &v->str);
    case '{': v->kind = JOBJ; return skip_container(sc, '}');
    case '[': v->kind = JARR; return skip_container(sc, ']');
    case 't': v->kind = JTRUE; return lit(sc, "true", 4);
    case 'f': v->kind = JFALSE; return lit(sc, "false", 5);
    case 'n': v->kind = JNULL; return lit(sc, "null", 4);
    default: return scan_number(sc, v);
    }
}

static int skip_value(Scan *sc) { return scan_value(sc, NULL); }

/* Object members one at a time: 1 with the key (escape-free: a key spelled with escapes is left to
 * Python) and sc->p at its value, 0 at the closing brace, -1 when not valid. `first` is set for the
 * first call (sc->p at the opening brace). */
static int next_member(Scan *sc, Str *key, int *first) {
    if (*first) {
        *first = 0;
        if (sc->p >= sc->end || *sc->p != '{' || ++sc->depth > MAX_DEPTH) return -1;
        sc->p++;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == '}') { sc->p++; sc->depth--; return 0; }
    } else {
        skip_ws(sc);
        if (sc->p >= sc->end) return -1;
        if (*sc->p == '}') { sc->p++; sc->depth--; return 0; }
        if (*sc->p != ',') return -1;
        sc->p++;
        skip_ws(sc);
    }
    if (sc->p >= sc->end || *sc->p != '"' || !scan_string(sc, key) || key->esc) return -1;
    skip_ws(sc);
    if (sc->p >= sc->end || *sc->p != ':') return -1;
    sc->p++;
    skip_ws(sc);
    return 1;
}

static inline int key_is(const Str *key, const char *name) {
    size_t n = strlen(name);
    return (size_t)key->n == n && memcmp(key->s, name, n) == 0;
}

/* A value msgspec decodes, whole (UTF-8 checked). */
static int decoded(Scan *sc, Val *v) {
    sc->strict = 1;
    int ok = scan_value(sc, v);
    sc->strict = 0;
    return ok;
}

/* A member the fold reads: a second one with the same key is left to Python (which takes the last). */
static int take(Scan *sc, Val *v) {
    return v->kind == ABSENT && decoded(sc, v);
}

/* A member msgspec decodes that the fold does not read here (it leaves such lines to Python). */
static int check(Scan *sc) {
    Val v;
    return decoded(sc, &v);
}

/* --- a transcript line ---------------------------------------------------------------------------- */

enum { B_OTHER = 0, B_TOOL_RESULT, B_TOOL_USE, B_TEXT };

typedef struct {
    int type;  /* B_* (B_OTHER: no type, or a string naming another block) */
    Val id, is_error, input, command, tool_use_id;
    Val text; /* skipped as msgspec skips its Raw (no UTF-8 check): checked when decoded */
} Block;

typedef struct {
    Val type, timestamp, side, cwd, branch, cost, api_error, request_id, uuid, attachment, message;
    Val is_meta, is_compact;
    Val msg_id, model, usage, content;
    Val in, out, cc, cr, cache, one_hour;
    int nblocks;
    Block blocks[MAX_BLOCKS];
} Line;

/* A member that holds null or an object of which one member is read (a tool's input and its command;
 * usage's cache_creation and its 1-hour tokens); a second such member is left to Python. */
static int object_of_one(Scan *sc, Val *object, const char *name, Val *member) {
    Str key;
    int first = 1, r;
    if (object->kind != ABSENT) return 0;
    if (sc->p >= sc->end || *sc->p != '{') return scan_value(sc, object) && object->kind == JNULL;
    object->kind = JOBJ;
    while ((r = next_member(sc, &key, &first)) == 1) {
        if (key_is(&key, name) ? !take(sc, member) : !skip_value(sc)) return 0;
    }
    return r == 0;
}

static int parse_block(Scan *sc, Block *b) {
    Str key;
    int first = 1, r;
    Val type = {0};
    memset(b, 0, sizeof(*b));
    if (sc->p >= sc->end || *sc->p != '{') return 0; /* a block must be an object */
    while ((r = next_member(sc, &key, &first)) == 1) {
        int ok;
        if (key_is(&key, "type")) ok = take(sc, &type);
        else if (key_is(&key, "id")) ok = take(sc, &b->id);
        else if (key_is(&key, "is_error")) ok = take(sc, &b->is_error);
        else if (key_is(&key, "tool_use_id")) ok = take(sc, &b->tool_use_id);
        else if (key_is(&key, "text")) ok = b->text.kind == ABSENT && scan_value(sc, &b->text);
        else if (key_is(&key, "input")) ok = object_of_one(sc, &b->input, "command", &b->command);
        else ok = skip_value(sc);
        if (!ok) return 0;
    }
    if (r != 0) return 0;
    if (type.kind == JSTR) {
        if (type.str.esc) return 0;
        if (key_is(&type.str, "tool_result")) b->type = B_TOOL_RESULT;
        else if (key_is(&type.str, "tool_use")) b->type = B_TOOL_USE;
        else if (key_is(&type.str, "text")) b->type = B_TEXT;
    } else if (type.kind != ABSENT && type.kind != JNULL) {
        return 0;
    }
    return 1;
}

static int parse_content(Scan *sc, Line *L) {
    if (sc->p < sc->end && *sc->p == '[') {
        L->content.kind = JARR;
        if (++sc->depth > MAX_DEPTH) return 0;
        sc->p++;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ']') { sc->p++; sc->depth--; return 1; }
        for (;;) {
            if (L->nblocks >= MAX_BLOCKS || !parse_block(sc, &L->blocks[L->nblocks])) return 0;
            L->nblocks++;
            skip_ws(sc);
            if (sc->p >= sc->end) return 0;
            if (*sc->p == ',') { sc->p++; skip_ws(sc); continue; }
            if (*sc->p == ']') { sc->p++; sc->depth--; return 1; }
            return 0;
        }
    }
    return decoded(sc, &L->content) && (L->content.kind == JSTR || L->content.kind == JNULL);
}

static int parse_usage(Scan *sc, Line *L) {
    Str key;
    int first = 1, r;
    L->usage.kind = JOBJ;
    while ((r = next_member(sc, &key, &first)) == 1) {
        int ok;
        if (key_is(&key, "input_tokens")) ok = take(sc, &L->in);
        else if (key_is(&key, "output_tokens")) ok = take(sc, &L->out);
        else if (key_is(&key, "cache_creation_input_tokens")) ok = take(sc, &L->cc);
        else if (key_is(&key, "cache_read_input_tokens")) ok = take(sc, &L->cr);
        else if (key_is(&key, "cache_creation"))
            ok = object_of_one(sc, &L->cache, "ephemeral_1h_input_tokens", &L->one_hour);
        else ok = skip_value(sc);
        if (!ok) return 0;
    }
    return r == 0;
}

static int parse_message(Scan *sc, Line *L) {
    Str key;
    int first = 1, r;
    L->message.kind = JOBJ;
    while ((r = next_member(sc, &key, &first)) == 1) {
        int ok;
        if (key_is(&key, "id")) ok = take(sc, &L->msg_id);
        else if (key_is(&key, "model")) ok = take(sc, &L->model);
        else if (key_is(&key, "usage")) {
            if (L->usage.kind != ABSENT) return 0;
            if (sc->p < sc->end && *sc->p == '{') ok = parse_usage(sc, L);
            else ok = scan_value(sc, &L->usage) && L->usage.kind == JNULL;
        } else if (key_is(&key, "content")) {
            if (L->content.kind != ABSENT) return 0;
            ok = parse_content(sc, L);
        } else ok = skip_value(sc);
        if (!ok) return 0;
    }
    return r == 0;
}

/* The whole line, strictly: 1 when parsed, 0 to leave it to Python. */
static int parse_line(const unsigned char *p, const unsigned char *end, Line *L) {
    Scan sc = {p, end, 0, 0};
    Str key;
    int first = 1, r;
    memset(L, 0, offsetof(Line, blocks));
    skip_ws(&sc);
    while ((r = next_member(&sc, &key, &first)) == 1) {
        int ok;
        const unsigned char *k = key.s;
        switch (key.n ? k[0] : 0) { /* the first letter narrows the comparisons */
        case 't': ok = key_is(&key, "type") ? take(&sc, &L->type)
                     : key_is(&key, "timestamp") ? take(&sc, &L->timestamp) : skip_value(&sc);
            break;
        case 'i': ok = key_is(&key, "isSidechain") ? take(&sc, &L->side)
                     : key_is(&key, "isApiErrorMessage") ? take(&sc, &L->api_error)
                     : key_is(&key, "isMeta") ? take(&sc, &L->is_meta)
                     : key_is(&key, "isCompactSummary") ? take(&sc, &L->is_compact) : skip_value(&sc);
            break;
        case 'e': ok = key_is(&key, "error") ? check(&sc) : skip_value(&sc); break;
        case 'c': ok = key_is(&key, "cwd") ? take(&sc, &L->cwd)
                     : key_is(&key, "costUSD") ? take(&sc, &L->cost) : skip_value(&sc);
            break;
        case 'g': ok = key_is(&key, "gitBranch") ? take(&sc, &L->branch) : skip_value(&sc); break;
        case 'r': ok = key_is(&key, "requestId") ? take(&sc, &L->request_id) : skip_value(&sc); break;
        case 'u': ok = key_is(&key, "uuid") ? take(&sc, &L->uuid) : skip_value(&sc); break;
        case 'a': ok = key_is(&key, "attachment") ? take(&sc, &L->attachment) : skip_value(&sc); break;
        case 'm':
            if (key_is(&key, "message")) {
                if (L->message.kind != ABSENT) return 0;
                if (sc.p < sc.end && *sc.p == '{') ok = parse_message(&sc, L);
                else ok = take(&sc, &L->message);
            } else ok = skip_value(&sc);
            break;
        default: ok = skip_value(&sc);
        }
        if (!ok) return 0;
    }
    if (r != 0) return 0;
    skip_ws(&sc);
    return sc.p == sc.end;
}

/* --- building values ------------------------------------------------------------------------------- */

/* A string's value as a Python str (escapes decoded); NULL with an exception set on failure. */
static PyObject *str_of(const Str *s) {
    if (!s->esc) return s->ascii ? PyUnicode_FromStringAndSize((const char *)s->s, s->n)
                                 : PyUnicode_DecodeUTF8((const char *)s->s, s->n, "strict");
    char *buf = PyMem_Malloc((size_t)s->n + 1); /* \uXXXX (6 bytes) decodes to at most 3, a pair to 4 */
    if (!buf) return PyErr_NoMemory();
    const unsigned char *p = s->s, *end = s->s + s->n;
    char *o = buf;
    while (p < end) {
        if (*p != '\\') { *o++ = (char)*p++; continue; }
        unsigned char e = p[1];
        p += 2;
        switch (e) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned u, lo;
            hex4(p, &u); /* validated by scan_string */
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                hex4(p + 2, &lo);
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u < 0x80) *o++ = (char)u;
            else if (u < 0x800) { *o++ = (char)(0xC0 | (u >> 6)); *o++ = (char)(0x80 | (u & 0x3F)); }
            else if (u < 0x10000) {
                *o++ = (char)(0xE0 | (u >> 12)); *o++ = (char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (u >> 18)); *o++ = (char)(0x80 | ((u >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((u >> 6) & 0x3F)); *o++ = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: *o++ = (char)e; /* " \ / */
        }
    }
    PyObject *r = PyUnicode_DecodeUTF8(buf, o - buf, "strict");
    PyMem_Free(buf);
    return r;
}

/* The kinds a field may have for C to fold the line: the given ones, or absent / null. */
#define NULLISH(v) ((v).kind == ABSENT || (v).kind == JNULL)
#define STR_OR_NULL(v) (NULLISH(v) || (v).kind == JSTR)
#define BOOL_OR_NULL(v) (NULLISH(v) || (v).kind == JTRUE || (v).kind == JFALSE)
#define COUNT_OK(v) (NULLISH(v) || ((v).kind == JINT && (v).i <= max_count))
#define COUNT(v) ((v).kind == JINT ? (v).i : 0)

static int incr(PyObject *data, PyObject *key, long long by) {
    PyObject *old = PyDict_GetItemWithError(data, key);
    if (!old) { if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key); return -1; }
    PyObject *n = PyLong_FromLongLong(by), *sum;
    if (!n) return -1;
    sum = PyNumber_Add(old, n);
    Py_DECREF(n);
    if (!sum) return -1;
    int r = PyDict_SetItem(data, key, sum);
    Py_DECREF(sum);
    return r;
}

/* items.append(value) and at most `keep` kept (the oldest dropped), as claude_code._push_recent. */
static int push_recent(PyObject *items, PyObject *value, Py_ssize_t keep) {
    if (PyList_Append(items, value) < 0) return -1;
    Py_ssize_t n = PyList_GET_SIZE(items);
    return n > keep ? PyList_SetSlice(items, 0, n - keep, NULL) : 0;
}

static PyObject *pair(PyObject *a, PyObject *b) {
    PyObject *l = PyList_New(2);
    if (!l) return NULL;
    Py_INCREF(a); PyList_SET_ITEM(l, 0, a);
    Py_INCREF(b); PyList_SET_ITEM(l, 1, b);
    return l;
}

/* claude_code._better: which of two entries for one message to keep. */
static int better(PyObject *entry, PyObject *old, long long side, long long total) {
    if (PyList_CheckExact(old) && PyList_GET_SIZE(old) > 6) {
        long long v[5];
        int idx[5] = {6, 1, 2, 3, 4}, ok = 1;
        for (int k = 0; k < 5 && ok; k++) {
            PyObject *item = PyList_GET_ITEM(old, idx[k]);
            int overflow = 0;
            if (!PyLong_CheckExact(item)) { ok = 0; break; }
            v[k] = PyLong_AsLongLongAndOverflow(item, &overflow);
            if (overflow || v[k] < 0 || v[k] > max_count) ok = 0;
        }
        if (ok) {
            if (side != v[0]) return side == 0;
            return total > v[1] + v[2] + v[3] + v[4];
        }
        PyErr_Clear();
    }
    PyObject *r = PyObject_CallFunctionObjArgs(better_fn, entry, old, NULL);
    if (!r) return -1;
    int b = PyObject_IsTrue(r);
    Py_DECREF(r);
    return b;
}

static PyObject *get(PyObject *data, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(data, key);
    if (!v && !PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
    return v;
}

/* Whether C may fold this line (nothing changed yet): 1 yes, 0 leave it to Python. */
static int foldable(const Line *L, int *kind) {
    if (L->type.kind != JSTR || L->type.str.esc || !L->type.str.ascii) return 0;
    if (!NULLISH(L->timestamp)) {
        const Str *t = &L->timestamp.str;
        if (L->timestamp.kind != JSTR || t->esc || !t->ascii || t->n != 24 || t->s[23] != 'Z') return 0;
    }
    if (!BOOL_OR_NULL(L->side) || !STR_OR_NULL(L->cwd) || !STR_OR_NULL(L->branch)) return 0;
    if (key_is(&L->type.str, "user")) *kind = 1;
    else if (key_is(&L->type.str, "assistant")) *kind = 2;
    else *kind = 0;
    if (*kind == 0) /* a line of another type: read for its time and place when it has no message */
        return NULLISH(L->message) && NULLISH(L->attachment);
    if (L->message.kind != JOBJ || !NULLISH(L->attachment)) return 0; /* an attachment may name the model */
    if (*kind == 1) {
        if (!BOOL_OR_NULL(L->is_meta) || !BOOL_OR_NULL(L->is_compact)) return 0;
        for (int k = 0; k < L->nblocks; k++) {
            const Block *b = &L->blocks[k];
            if (b->type == B_TEXT && b->text.kind != JSTR) return 0;
            if (b->type == B_TOOL_RESULT && (!BOOL_OR_NULL(b->is_error) || !STR_OR_NULL(b->tool_use_id))) return 0;
        }
        return 1;
    }
    if (!NULLISH(L->cost) || !(NULLISH(L->api_error) || L->api_error.kind == JFALSE)) return 0;
    if (!STR_OR_NULL(L->model) || !STR_OR_NULL(L->msg_id) || !STR_OR_NULL(L->request_id)) return 0;
    if (!STR_OR_NULL(L->uuid)) return 0;
    for (int k = 0; k < L->nblocks; k++) {
        const Block *b = &L->blocks[k];
        if (b->type == B_TOOL_USE && (!STR_OR_NULL(b->id) || !STR_OR_NULL(b->command))) return 0;
    }
    if (L->usage.kind == JOBJ) {
        if (!COUNT_OK(L->in) || !COUNT_OK(L->out) || !COUNT_OK(L->cc) || !COUNT_OK(L->cr)) return 0;
        if (L->cache.kind == JOBJ && !COUNT_OK(L->one_hour)) return 0;
        int has_id = L->msg_id.kind == JSTR && L->msg_id.str.n > 0;
        if (!has_id && L->uuid.kind != JSTR) return 0; /* keyed by a hash of the whole line */
    }
    return 1;
}

/* The common start of every folded line: lines, first/last time, branch, cwd. */
static int fold_place(PyObject *data, const Line *L, PyObject *ts, int side) {
    if (incr(data, k_lines, 1) < 0) return -1;
    if (ts != Py_None) {
        PyObject *first = get(data, k_first_ts), *last;
        if (!first) return -1;
        int lt = first == Py_None ? 1 : PyObject_RichCompareBool(ts, first, Py_LT);
        if (lt < 0 || (lt && PyDict_SetItem(data, k_first_ts, ts) < 0)) return -1;
        if (!(last = get(data, k_last_ts))) return -1;
        int gt = last == Py_None ? 1 : PyObject_RichCompareBool(ts, last, Py_GT);
        if (gt < 0 || (gt && PyDict_SetItem(data, k_last_ts, ts) < 0)) return -1;
    }
    if (!side && L->branch.kind == JSTR && L->branch.str.n > 0) {
        PyObject *b = str_of(&L->branch.str);
        if (!b) return -1;
        int eq = PyUnicode_Compare(b, no_branch) == 0;
        int r = PyDict_SetItem(data, k_branch, eq ? Py_None : b);
        Py_DECREF(b);
        if (r < 0) return -1;
    }
    PyObject *cwd = get(data, k_cwd);
    if (!cwd) return -1;
    if (cwd == Py_None && L->cwd.kind == JSTR && L->cwd.str.n > 0) {
        PyObject *c = str_of(&L->cwd.str);
        if (!c) return -1;
        int r = PyDict_SetItem(data, k_cwd, c);
        Py_DECREF(c);
        if (r < 0) return -1;
    }
    return 0;
}

/* --- user lines ------------------------------------------------------------------------------------ */

enum { T_NONE = 0, T_INTERRUPT, T_NOISE, T_CLEAR, T_TEXT };

/* str.lstrip()'s start: the first character that is not whitespace (len(text) when there is none). */
static Py_ssize_t first_nonspace(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *d = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) return i;
    return n;
}

/* What a user text is (claude_code._user_text and _user_blocks_typed): an interruption, a slash
 * command's echo or a reminder (T_CLEAR for /clear), text (T_TEXT), or only whitespace; -1 on error. */
static int text_class(PyObject *text) {
    Py_ssize_t start = first_nonspace(text), r;
    if ((r = PyUnicode_Tailmatch(text, interrupt_prefix, 0, PY_SSIZE_T_MAX, -1)) != 0) return r < 0 ? -1 : T_INTERRUPT;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(noise_prefixes); k++) {
        r = PyUnicode_Tailmatch(text, PyTuple_GET_ITEM(noise_prefixes, k), start, PY_SSIZE_T_MAX, -1);
        if (r < 0) return -1;
        if (r) {
            int clear = PyUnicode_Contains(text, clear_command);
            return clear < 0 ? -1 : clear ? T_CLEAR : T_NOISE;
        }
    }
    return start < PyUnicode_GET_LENGTH(text) ? T_TEXT : T_NONE;
}

/* A user line read before anything is changed: its texts, what each is, and the prompt it makes. */
typedef struct {
    PyObject *texts;  /* the content string, or each text block's text, in order */
    int classes[MAX_BLOCKS];
    int prompt;       /* it counts as a prompt */
    PyObject *title;  /* the session's title from it, when it is the first prompt */
} User;

static void user_clear(User *u) {
    Py_CLEAR(u->texts);
    Py_CLEAR(u->title);
}

/* 1 read, 0 left to Python (a text that is not valid UTF-8, a title that cannot be made), -1 error. */
static int user_read(PyObject *data, const Line *L, int side, User *u) {
    PyObject *t, *prompt = NULL;
    int n = 0, has_text = 0;
    u->prompt = 0;
    if (!(u->texts = PyList_New(0))) return -1;
    for (int k = -1; k < L->nblocks; k++) {
        const Str *raw;
        if (k < 0) {
            if (L->content.kind != JSTR) continue;
            raw = &L->content.str;
        } else if (L->blocks[k].type == B_TEXT) {
            raw = &L->blocks[k].text.str;
        } else {
            continue;
        }
        if (!(t = str_of(raw))) return PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) ? (PyErr_Clear(), 0) : -1;
        int r = PyList_Append(u->texts, t), cls = r < 0 ? -1 : text_class(t);
        Py_DECREF(t);
        if (cls < 0) return -1;
        u->classes[n++] = cls;
        if (cls == T_TEXT) has_text = 1; /* /clear counts only as a line of its own (k < 0) */
    }
    if (!has_text || side || L->is_meta.kind == JTRUE || L->is_compact.kind == JTRUE) return 1;
    u->prompt = 1;
    PyObject *first = PyDict_GetItemWithError(data, k_first_prompt);
    if (first != Py_None) return PyErr_Occurred() ? -1 : 1;
    if (L->content.kind == JSTR) {
        prompt = PyList_GET_ITEM(u->texts, 0);
        Py_INCREF(prompt);
    } else if (!(prompt = PyUnicode_Join(newline, u->texts))) {
        return -1;
    }
    u->title = PyObject_CallOneArg(title_fn, prompt);
    Py_DECREF(prompt);
    if (!u->title) return PyErr_ExceptionMatches(PyExc_Exception) ? (PyErr_Clear(), 0) : -1;
    return 1;
}

static int interrupt(PyObject *data, PyObject *ts) {
    PyObject *items = get(data, k_recent_int);
    return items && incr(data, k_interruptions, 1) == 0 ? push_recent(items, ts, interrupts_keep) : -1;
}

/* A failed tool result: counted, and its command's failures (claude_code._tool_result). */
static int tool_error(PyObject *data, const Block *b, PyObject *ts) {
    PyObject *cmds, *command = NULL, *recent, *item;
    if (incr(data, k_tool_errors, 1) < 0 || !(cmds = get(data, k_cmds))) return -1;
    if (b->tool_use_id.kind == JSTR) {
        PyObject *id = str_of(&b->tool_use_id.str);
        if (!id) return -1;
        command = PyDict_GetItemWithError(cmds, id);
        Py_DECREF(id);
        if (!command && PyErr_Occurred()) return -1;
    }
    int truthy = command ? PyObject_IsTrue(command) : 0;
    if (truthy < 0) return -1;
    if (truthy) {
        PyObject *fails = get(data, k_fails), *had, *one, *sum;
        if (!fails) return -1;
        Py_INCREF(command); /* cmds may drop it meanwhile (it does not here, but fails keeps it) */
        had = PyDict_GetItemWithError(fails, command);
        if (!had && PyErr_Occurred()) { Py_DECREF(command); return -1; }
        if (!(one = PyLong_FromLong(1))) { Py_DECREF(command); return -1; }
        sum = had ? PyNumber_Add(had, one) : (Py_INCREF(one), one);
        Py_DECREF(one);
        int r = sum ? PyDict_SetItem(fails, command, sum) : -1;
        Py_XDECREF(sum);
        Py_DECREF(command);
        if (r < 0) return -1;
        if (PyDict_GET_SIZE(fails) > fails_keep) {
            Py_ssize_t pos = 0;
            PyObject *oldest, *value;
            if (PyDict_Next(fails, &pos, &oldest, &value)) {
                Py_INCREF(oldest);
                r = PyDict_DelItem(fails, oldest);
                Py_DECREF(oldest);
                if (r < 0) return -1;
            }
        }
    }
    if (!(recent = get(data, k_recent)) || !(item = pair(ts, Py_True))) return -1;
    int r = push_recent(recent, item, recent_keep);
    Py_DECREF(item);
    return r;
}

static int fold_user(PyObject *data, const Line *L, PyObject *ts, const User *u) {
    if (L->content.kind == JSTR) {
        int cls = u->classes[0];
        if (cls == T_INTERRUPT && interrupt(data, ts) < 0) return -1;
        if (cls == T_CLEAR) {
            PyObject *r = PyObject_CallOneArg(fresh_context_fn, data);
            if (!r) return -1;
            Py_DECREF(r);
        }
    }
    int n = 0;
    for (int k = 0; k < L->nblocks; k++) {
        const Block *b = &L->blocks[k];
        if (b->type == B_TEXT) {
            if (u->classes[n++] == T_INTERRUPT && interrupt(data, ts) < 0) return -1;
        } else if (b->type == B_TOOL_RESULT) {
            if (b->is_error.kind == JTRUE) {
                if (tool_error(data, b, ts) < 0) return -1;
                continue;
            }
            PyObject *recent = get(data, k_recent), *item;
            if (!recent || !(item = pair(ts, Py_False))) return -1;
            int r = push_recent(recent, item, recent_keep);
            Py_DECREF(item);
            if (r < 0) return -1;
        }
    }
    if (!u->prompt) return 0;
    if (incr(data, k_prompts, 1) < 0 || incr(data, k_turns, 1) < 0) return -1;
    return u->title ? PyDict_SetItem(data, k_first_prompt, u->title) : 0;
}

/* --- assistant lines ------------------------------------------------------------------------------- */

static int fold_tool_uses(PyObject *data, const Line *L) {
    for (int k = 0; k < L->nblocks; k++) {
        const Block *b = &L->blocks[k];
        if (b->type != B_TOOL_USE) continue;
        if (incr(data, k_tool_calls, 1) < 0) return -1;
        if (b->input.kind != JOBJ || b->command.kind != JSTR || b->id.kind != JSTR || b->id.str.n == 0)
            continue;
        PyObject *cmds = get(data, k_cmds), *id, *cmd, *cut;
        if (!cmds) return -1;
        if (!PyDict_Check(cmds)) { PyErr_SetString(PyExc_TypeError, "cmds is not a dict"); return -1; }
        if (!(cmd = str_of(&b->command.str))) return -1;
        cut = PyUnicode_GET_LENGTH(cmd) > command_chars ? PyUnicode_Substring(cmd, 0, command_chars) : (Py_INCREF(cmd), cmd);
        Py_DECREF(cmd);
        if (!cut) return -1;
        if (!(id = str_of(&b->id.str))) { Py_DECREF(cut); return -1; }
        int r = PyDict_SetItem(cmds, id, cut);
        Py_DECREF(id);
        Py_DECREF(cut);
        if (r < 0) return -1;
        if (PyDict_GET_SIZE(cmds) > cmds_keep) { /* the oldest command goes */
            Py_ssize_t pos = 0;
            PyObject *oldest, *value;
            if (PyDict_Next(cmds, &pos, &oldest, &value)) {
                Py_INCREF(oldest);
                r = PyDict_DelItem(cmds, oldest);
                Py_DECREF(oldest);
                if (r < 0) return -1;
            }
        }
    }
    return 0;
}

/* The usage entry [model, input, output, cache_creation, cache_read, cache_1h, sidechain, ts] under
 * its dedup key, and the reply's context (claude_code._note_reply). */
static int fold_usage(PyObject *data, const Line *L, PyObject *ts, int side, PyObject *model) {
    long long in = COUNT(L->in), out = COUNT(L->out), cc = COUNT(L->cc), cr = COUNT(L->cr);
    long long oh = L->cache.kind == JOBJ ? COUNT(L->one_hour) : 0;
    PyObject *entry = PyList_New(8), *key = NULL, *entries, *old;
    int rc = -1;
    if (!entry) return -1;
    long long nums[5] = {in, out, cc, cr, oh};
    PyObject *m = (model != Py_None && PyUnicode_GET_LENGTH(model) > 0) ? model : Py_None;
    Py_INCREF(m);
    PyList_SET_ITEM(entry, 0, m);
    for (int k = 0; k < 5; k++) {
        PyObject *n = PyLong_FromLongLong(nums[k]);
        if (!n) goto done;
        PyList_SET_ITEM(entry, k + 1, n);
    }
    PyObject *s = PyLong_FromLong(side ? 1 : 0);
    if (!s) goto done;
    PyList_SET_ITEM(entry, 6, s);
    Py_INCREF(ts);
    PyList_SET_ITEM(entry, 7, ts);
    if (L->msg_id.kind == JSTR && L->msg_id.str.n > 0) {
        PyObject *id = str_of(&L->msg_id.str);
        if (!id) goto done;
        if (L->request_id.kind == JSTR) {
            PyObject *req = str_of(&L->request_id.str);
            if (!req) { Py_DECREF(id); goto done; }
            key = PyUnicode_FromFormat("%U|%U", id, req);
            Py_DECREF(req);
            Py_DECREF(id);
        } else {
            key = id;
        }
    } else {
        PyObject *uuid = str_of(&L->uuid.str);
        if (!uuid) goto done;
        key = PyUnicode_FromFormat("uuid:%U", uuid);
        Py_DECREF(uuid);
    }
    if (!key || !(entries = get(data, k_entries))) goto done;
    if (!PyDict_Check(entries)) { PyErr_SetString(PyExc_TypeError, "entries is not a dict"); goto done; }
    old = PyDict_GetItemWithError(entries, key);
    if (!old && PyErr_Occurred()) goto done;
    if (!old) {
        if (PyDict_SetItem(entries, key, entry) < 0) goto done;
    } else {
        int b = better(entry, old, side ? 1 : 0, in + out + cc + cr);
        if (b < 0 || (b && PyDict_SetItem(entries, key, entry) < 0)) goto done;
    }
    /* _note_reply: a main-chain reply's context */
    if (!side && !(model != Py_None && PyUnicode_Compare(model, synthetic) == 0)) {
        PyObject *ctx = PyLong_FromLongLong(in + cc + cr), *triple, *peak;
        if (!ctx) goto done;
        if (!(triple = PyList_New(3))) { Py_DECREF(ctx); goto done; }
        Py_INCREF(ctx); PyList_SET_ITEM(triple, 0, ctx);
        Py_INCREF(ts); PyList_SET_ITEM(triple, 1, ts);
        Py_INCREF(model); PyList_SET_ITEM(triple, 2, model);
        int r = PyDict_SetItem(data, k_ctx, triple);
        Py_DECREF(triple);
        if (r == 0 && ts != Py_None) {
            PyObject *hist = get(data, k_ctx_hist), *point;
            if (!hist) r = -1;
            else if (!PyList_Check(hist)) { PyErr_SetString(PyExc_TypeError, "ctx_hist"); r = -1; }
            else if (!(point = pair(ts, ctx))) r = -1;
            else { r = push_recent(hist, point, ctx_history); Py_DECREF(point); }
        }
        if (r == 0) {
            if (!(peak = get(data, k_peak_ctx))) r = -1;
            else {
                int gt = PyObject_RichCompareBool(ctx, peak, Py_GT);
                if (gt < 0 || (gt && PyDict_SetItem(data, k_peak_ctx, ctx) < 0)) r = -1;
            }
        }
        Py_DECREF(ctx);
        if (r < 0) goto done;
        if (model != Py_None && PyUnicode_GET_LENGTH(model) > 0 && PyDict_SetItem(data, k_last_model, model) < 0)
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(key);
    Py_DECREF(entry);
    return rc;
}

/* The state as claude_code.new_data makes it (or a saved one of the same shape): anything else is
 * folded by Python, which meets it as it always has (a line that cannot be folded is counted as
 * skipped). */
static int sane(PyObject *data) {
    static PyObject **strs[] = {&k_first_ts, &k_last_ts, &k_cwd, &k_first_prompt};
    static PyObject **ints[] = {&k_lines, &k_tool_calls, &k_peak_ctx, &k_prompts, &k_turns, &k_interruptions,
                                &k_tool_errors};
    static PyObject **lists[] = {&k_recent, &k_ctx_hist, &k_recent_int};
    static PyObject **dicts[] = {&k_entries, &k_cmds, &k_fails};
    PyObject *v;
    for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
        if (!(v = PyDict_GetItemWithError(data, *strs[k])) || (v != Py_None && !PyUnicode_CheckExact(v)))
            return 0;
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
        if (!(v = PyDict_GetItemWithError(data, *ints[k])) || !PyLong_CheckExact(v)) return 0;
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
        if (!(v = PyDict_GetItemWithError(data, *lists[k])) || !PyList_CheckExact(v)) return 0;
    for (size_t k = 0; k < sizeof(dicts) / sizeof(dicts[0]); k++)
        if (!(v = PyDict_GetItemWithError(data, *dicts[k])) || !PyDict_CheckExact(v)) return 0;
    return PyDict_GetItemWithError(data, k_fork) == Py_False; /* a fork's copies are told apart in Python */
}

/* One line into a state that is sane(): 1 folded here, 0 left to Python (nothing changed), -1 error (an
 * exception set). What it writes keeps the state sane (an int where sane() wants one, a str or None where
 * it wants that, items added to the lists and dicts), so the caller asks sane() again only after Python
 * folded a line. */
static int fold_line(const unsigned char *p, const unsigned char *end, PyObject *data, Line *L) {
    int kind;
    if (!parse_line(p, end, L) || !foldable(L, &kind)) return 0;
    if (kind == 0) { /* DICT_TYPES are folded by Python as a whole */
        PyObject *t = str_of(&L->type.str);
        if (!t) return -1;
        int in = PySet_Contains(dict_types, t);
        Py_DECREF(t);
        if (in) return in < 0 ? -1 : 0;
    }
    PyObject *ts, *model;
    int rc = -1, side = L->side.kind == JTRUE;
    User u = {NULL};
    if (kind == 1) {
        int r = user_read(data, L, side, &u);
        if (r <= 0) {
            user_clear(&u);
            return r;
        }
    }
    if (L->timestamp.kind == JSTR) {
        if (!(ts = str_of(&L->timestamp.str))) {
            user_clear(&u);
            return -1;
        }
    } else {
        ts = Py_None;
        Py_INCREF(ts);
    }
    if (kind == 2 && L->model.kind == JSTR) {
        if (!(model = str_of(&L->model.str))) goto done;
        PyUnicode_InternInPlace(&model);
    } else {
        model = Py_None;
        Py_INCREF(model);
    }
    if (fold_place(data, L, ts, side) < 0) goto done;
    if (kind == 1 && fold_user(data, L, ts, &u) < 0) goto done;
    if (kind == 2) {
        if (L->content.kind == JARR && fold_tool_uses(data, L) < 0) goto done;
        if (L->usage.kind == JOBJ && fold_usage(data, L, ts, side, model) < 0) goto done;
    }
    rc = 1;
done:
    user_clear(&u);
    Py_DECREF(ts);
    Py_XDECREF(model);
    return rc;
}

/* --- the module ------------------------------------------------------------------------------------ */

/* Whether configure() has run (it leaves both unset when it fails); else a RuntimeError. */
static int configured(void) {
    if (recent_keep >= 0 && e_ts >= 0) return 1;
    PyErr_SetString(PyExc_RuntimeError, "configure() first");
    return 0;
}

PyDoc_STRVAR(fold_doc,
"fold(buf, pos, end, data, slow) -> int\n\n"
"Fold every complete line of buf[pos:end] into data; slow(start, stop) folds a line C leaves to\n"
"Python. Returns the offset after the last newline (pos when there is none).");

static PyObject *fold(PyObject *self, PyObject *args) {
    PyObject *bufobj, *data, *slow;
    Py_ssize_t pos, end;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "OnnO!O:fold", &bufobj, &pos, &end, &PyDict_Type, &data, &slow)) return NULL;
    if (!configured()) return NULL;
    if (PyObject_GetBuffer(bufobj, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (pos < 0 || end < pos || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos and end must lie within the buffer");
        return NULL;
    }
    /* One Line (19 KB) for every call, not one allocated per file: allocating it per call left the
     * reading workers' heaps ~2.5 MB larger at 6,000 sessions. A call made while another holds it (a
     * thread run while this one called into Python) takes its own. */
    static Line shared_line;
    static int shared_busy = 0;
    int own = shared_busy;
    Line *L = own ? PyMem_Malloc(sizeof(Line)) : &shared_line;
    if (!L) { PyBuffer_Release(&view); return PyErr_NoMemory(); }
    if (!own) shared_busy = 1;
    const unsigned char *b = view.buf;
    PyObject *result = NULL;
    int ok = -1; /* whether data is sane(): asked at the start, and again after Python folded a line */
    for (;;) {
        const unsigned char *nl = memchr(b + pos, '\n', (size_t)(end - pos));
        if (!nl) break;
        Py_ssize_t stop = nl - b;
        if (stop > pos) {
            if (ok < 0 && !(ok = sane(data)) && PyErr_Occurred()) goto done;
            int r = ok ? fold_line(b + pos, nl, data, L) : 0;
            if (r < 0) goto done;
            if (r == 0) {
                PyObject *got = PyObject_CallFunction(slow, "nn", pos, stop);
                if (!got) goto done;
                Py_DECREF(got);
                ok = -1;
            }
        }
        pos = stop + 1;
    }
    result = PyLong_FromSsize_t(pos);
done:
    if (own) PyMem_Free(L);
    else shared_busy = 0;
    PyBuffer_Release(&view);
    return result;
}

/* --- old replies keep their minute (claude_code._forget_old_times) ---------------------------------- */

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const unsigned char *p, int n, int *out) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9') return 0;
        v = v * 10 + (p[k] - '0');
    }
    *out = v;
    return 1;
}

/* 1, with *out the minute since the epoch, for a canonical timestamp of a real date and time of day
 * (what _parse_minute computes for one); 0 for anything else, which Python decides. */
static int canonical_minute(PyObject *ts, long long *out) {
    if (!PyUnicode_IS_COMPACT_ASCII(ts) || PyUnicode_GET_LENGTH(ts) != 24) return 0;
    const unsigned char *t = PyUnicode_1BYTE_DATA(ts);
    int y, mo, d, h, mi, sec, ms;
    if (!digits(t, 4, &y) || t[4] != '-' || !digits(t + 5, 2, &mo) || t[7] != '-' || !digits(t + 8, 2, &d) ||
        t[10] != 'T' || !digits(t + 11, 2, &h) || t[13] != ':' || !digits(t + 14, 2, &mi) || t[16] != ':' ||
        !digits(t + 17, 2, &sec) || t[19] != '.' || !digits(t + 20, 3, &ms) || t[23] != 'Z')
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) return 0;
    *out = days_from_civil(y, mo, d) * 1440 + h * 60 + mi;
    return 1;
}

/* _minute(ts) for a str: computed here when canonical, else by _minute itself. */
static PyObject *minute_of(PyObject *ts) {
    long long m;
    return canonical_minute(ts, &m) ? PyLong_FromLongLong(m) : PyObject_CallOneArg(minute_fn, ts);
}

PyDoc_STRVAR(minute_doc,
"minute(ts) -> int\n\n"
"claude_code._minute(ts): the minute since the epoch of a canonical timestamp, computed here; any\n"
"other value is handed to _minute.");

static PyObject *minute(PyObject *self, PyObject *ts) {
    if (!configured()) return NULL;
    if (!PyUnicode_CheckExact(ts)) return PyObject_CallOneArg(minute_fn, ts);
    return minute_of(ts);
}

PyDoc_STRVAR(forget_doc,
"forget(entries, start) -> bool\n\n"
"Replace the timestamp of every entry older than start by its minute since the epoch, as\n"
"claude_code._forget_old_times does (_minute decides any timestamp that is not canonical). False\n"
"when it stopped at an entry that is not a list: Python does the rest.");

static PyObject *forget(PyObject *self, PyObject *args) {
    PyObject *entries, *start, *entry, *key;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "O!U:forget", &PyDict_Type, &entries, &start)) return NULL;
    if (!configured()) return NULL;
    while (PyDict_Next(entries, &pos, &key, &entry)) {
        if (!PyList_CheckExact(entry)) Py_RETURN_FALSE;
        if (PyList_GET_SIZE(entry) <= e_ts) continue;
        PyObject *ts = PyList_GET_ITEM(entry, e_ts);
        if (!PyUnicode_CheckExact(ts)) continue;
        int older = PyUnicode_Compare(ts, start);
        if (older == -1 && PyErr_Occurred()) return NULL;
        if (older >= 0) continue;
        /* _minute may run Python: hold the entry and its timestamp, and look again before writing */
        Py_INCREF(entry);
        Py_INCREF(ts);
        PyObject *minute = minute_of(ts);
        Py_DECREF(ts);
        int failed = minute == NULL;
        if (!failed) {
            if (PyList_GET_SIZE(entry) > e_ts) failed = PyList_SetItem(entry, e_ts, minute) < 0; /* takes it */
            else Py_DECREF(minute);
        }
        Py_DECREF(entry);
        if (failed) return NULL;
    }
    Py_RETURN_TRUE;
}

/* --- the merge: per-minute usage history and per-model totals ------------------------------------------ */

static PyObject *unknown_model; /* "unknown": what a reply without a model is counted under */
#define E_MODEL 0
#define E_IN 1
#define E_OUT 2
#define E_CC 3
#define E_CR 4
#define E_CC1H 5
#define E_SIDE 6
#define LONG_TIER 200000 /* claude_code._aggregate: input + cache over this is the long-context tier */

/* A plain int as a long long: 1, or 0 for anything else (not an exact int, or out of range). */
static int plain_int(PyObject *v, long long *out) {
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* The model a reply is counted under (a new reference to a str), or NULL with no error set when it is
 * not a str or None (Python decides). ``*skip`` is set for the synthetic model. */
static PyObject *model_of(PyObject *e, int *skip) {
    PyObject *model = PyList_GET_ITEM(e, E_MODEL);
    *skip = 0;
    if (model == Py_None || (PyUnicode_CheckExact(model) && PyUnicode_GET_LENGTH(model) == 0)) {
        Py_INCREF(unknown_model);
        return unknown_model;
    }
    if (!PyUnicode_CheckExact(model)) return NULL;
    *skip = model == synthetic || PyUnicode_Compare(model, synthetic) == 0;
    Py_INCREF(model);
    return model;
}

/* The five counts of an entry (input, output, cache creation, cache read, cache 1h): 1, or 0 when one is
 * not a plain int. */
static int counts_of(PyObject *e, long long v[5]) {
    for (int k = 0; k < 5; k++)
        if (!plain_int(PyList_GET_ITEM(e, E_IN + k), &v[k])) return 0;
    return 1;
}

static int add_counts(long long *row, const long long v[5]) {
    for (int k = 0; k < 5; k++)
        if (__builtin_add_overflow(row[k], v[k], &row[k])) return 0;
    return 1;
}

typedef struct {
    long long minute;
    PyObject *model; /* a reference held */
    long long v[5];
} Bucket;

static int bucket_order(const void *a, const void *b) {
    const Bucket *x = a, *y = b;
    if (x->minute != y->minute) return x->minute < y->minute ? -1 : 1;
    return x->model == y->model ? 0 : PyUnicode_Compare(x->model, y->model); /* str: cannot fail */
}

PyDoc_STRVAR(history_doc,
"usage_history(entries) -> tuple | None\n\n"
"claude_code._usage_history(entries): per minute and model, the tokens of the replies, sorted. None\n"
"when an entry holds anything but what a fold writes (Python then works it out).");

static PyObject *usage_history(PyObject *self, PyObject *entries) {
    if (!configured()) return NULL;
    if (!PyList_CheckExact(entries)) Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(entries), used = 0, k;
    Bucket *b = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Bucket));
    if (!b) return PyErr_NoMemory();
    PyObject *result = NULL;
    int fallback = 0;
    for (k = 0; k < n && !fallback; k++) {
        PyObject *e = PyList_GET_ITEM(entries, k);
        if (!PyList_CheckExact(e)) { fallback = 1; break; }
        if (PyList_GET_SIZE(e) <= e_ts) continue;
        PyObject *ts = PyList_GET_ITEM(e, e_ts);
        if (ts == Py_None) continue;
        int skip;
        PyObject *model = model_of(e, &skip);
        if (!model) { fallback = 1; break; }
        if (skip) { Py_DECREF(model); continue; }
        long long minute, v[5];
        if (PyLong_CheckExact(ts)) {
            if (!plain_int(ts, &minute)) fallback = 1;
        } else if (!PyUnicode_CheckExact(ts) || !canonical_minute(ts, &minute)) {
            fallback = 1; /* a stamp _minute must decide, or not a stamp */
        }
        if (fallback || !counts_of(e, v)) { Py_DECREF(model); fallback = 1; break; }
        b[used].minute = minute;
        b[used].model = model;
        memcpy(b[used].v, v, sizeof(v));
        used++;
    }
    if (!fallback) {
        qsort(b, (size_t)used, sizeof(Bucket), bucket_order);
        Py_ssize_t rows = 0;
        for (k = 0; k < used; k++) { /* fold equal keys into the first of them */
            if (rows && bucket_order(&b[rows - 1], &b[k]) == 0) {
                if (!add_counts(b[rows - 1].v, b[k].v)) { fallback = 1; break; }
                continue;
            }
            if (rows != k) {
                PyObject *keep = b[rows].model;
                b[rows] = b[k];
                b[k].model = keep; /* every model is released once, below */
            }
            rows++;
        }
        if (!fallback && (result = PyTuple_New(rows)) != NULL) {
            for (k = 0; k < rows; k++) {
                PyObject *row = Py_BuildValue("(LOLLLLL)", b[k].minute, b[k].model, b[k].v[0], b[k].v[1],
                                              b[k].v[2], b[k].v[3], b[k].v[4]);
                if (!row) { Py_CLEAR(result); break; }
                PyTuple_SET_ITEM(result, k, row);
            }
        }
    }
    for (k = 0; k < used; k++) Py_DECREF(b[k].model);
    PyMem_Free(b);
    if (fallback) Py_RETURN_NONE;
    return result;
}

PyDoc_STRVAR(aggregate_doc,
"aggregate(best, owner) -> dict | None\n\n"
"claude_code._aggregate(best, owner): per session, per model, the ten token totals (standard, then\n"
"long-context tier). None when an entry holds anything but what a fold writes, or a message has no\n"
"owner (Python then works it out, or raises).");

static PyObject *aggregate(PyObject *self, PyObject *args) {
    PyObject *best, *owner, *key, *e;
    if (!PyArg_ParseTuple(args, "O!O!:aggregate", &PyDict_Type, &best, &PyDict_Type, &owner)) return NULL;
    if (!configured()) return NULL;
    Py_ssize_t pos = 0, n = PyDict_GET_SIZE(best), rows = 0;
    long long (*acc)[10] = PyMem_Calloc(n ? (size_t)n : 1, sizeof(*acc));
    if (!acc) return PyErr_NoMemory();
    PyObject *out = PyDict_New(), *index = NULL;
    int fallback = 0;
    while (out && PyDict_Next(best, &pos, &key, &e)) {
        if (!PyList_CheckExact(e) || PyList_GET_SIZE(e) <= E_CC1H) { fallback = 1; break; }
        int skip;
        PyObject *model = model_of(e, &skip);
        if (!model) { fallback = 1; break; }
        long long v[5];
        if (skip) { Py_DECREF(model); continue; }
        if (!counts_of(e, v)) { Py_DECREF(model); fallback = 1; break; }
        PyObject *session = PyDict_GetItemWithError(owner, key);
        PyObject *per = session ? PyDict_GetItemWithError(out, session) : NULL;
        if (!per && !PyErr_Occurred() && session) {
            per = PyDict_New();
            if (per && PyDict_SetItem(out, session, per) < 0) Py_CLEAR(per);
            Py_XDECREF(per); /* out holds it */
        }
        if (!per) { Py_DECREF(model); if (!PyErr_Occurred()) fallback = 1; else Py_CLEAR(out); break; }
        index = PyDict_GetItemWithError(per, model);
        Py_ssize_t at;
        if (index) {
            at = PyLong_AsSsize_t(index);
        } else if (PyErr_Occurred()) {
            at = -1;
        } else {
            at = rows++;
            PyObject *i = PyLong_FromSsize_t(at);
            if (!i || PyDict_SetItem(per, model, i) < 0) at = -1;
            Py_XDECREF(i);
        }
        Py_DECREF(model);
        if (at < 0) { Py_CLEAR(out); break; }
        int base = 0;
        long long context;
        if (__builtin_add_overflow(v[0], v[2], &context) || __builtin_add_overflow(context, v[3], &context)) {
            fallback = 1;
            break;
        }
        if (context > LONG_TIER) base = 5;
        if (!add_counts(acc[at] + base, v)) { fallback = 1; break; }
    }
    /* Each model's index becomes its list of ten totals. */
    PyObject *session, *per, *model;
    Py_ssize_t spos = 0;
    while (out && !fallback && PyDict_Next(out, &spos, &session, &per)) {
        Py_ssize_t mpos = 0;
        while (PyDict_Next(per, &mpos, &model, &index)) {
            Py_ssize_t at = PyLong_AsSsize_t(index);
            PyObject *row = PyList_New(10);
            if (!row) { Py_CLEAR(out); break; }
            for (int k = 0; k < 10; k++) {
                PyObject *t = PyLong_FromLongLong(acc[at][k]);
                if (!t) { Py_CLEAR(row); break; }
                PyList_SET_ITEM(row, k, t);
            }
            if (!row || PyDict_SetItem(per, model, row) < 0) { Py_XDECREF(row); Py_CLEAR(out); break; }
            Py_DECREF(row);
        }
    }
    PyMem_Free(acc);
    if (fallback) { Py_XDECREF(out); Py_RETURN_NONE; }
    return out;
}

PyDoc_STRVAR(drop_replays_doc,
"drop_replays(best) -> bool\n\n"
"claude_code._drop_sidechain_replays(best): of the entries whose message id (the key up to '|') a\n"
"sidechain entry has, keep one per id, a main-chain one when there is one (else the first). False,\n"
"with nothing changed, when a key or an entry is not what a fold writes (Python then does it).");

/* The message id of a dedup key (its text up to the first '|'), a new reference; NULL on error. */
static PyObject *message_id(PyObject *key) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(key), bar = PyUnicode_FindChar(key, '|', 0, n, 1);
    if (bar == -2) return NULL;
    if (bar < 0) { Py_INCREF(key); return key; }
    return PyUnicode_Substring(key, 0, bar);
}

/* Whether an entry (a list checked by the caller) is a sidechain's: its flag is a bool or an int (a
 * fold writes 0 or 1), which needs no Python code to test. */
static inline int on_side(PyObject *e) {
    return PyObject_IsTrue(PyList_GET_ITEM(e, E_SIDE));
}

static PyObject *drop_replays(PyObject *self, PyObject *best) {
    if (!configured()) return NULL;
    if (!PyDict_CheckExact(best)) Py_RETURN_FALSE;
    PyObject *key, *e, *sides = NULL, *groups = NULL, *drop = NULL, *id = NULL, *result = NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(best, &pos, &key, &e)) { /* everything checked before anything changes */
        if (!PyUnicode_CheckExact(key) || !PyList_CheckExact(e) || PyList_GET_SIZE(e) <= E_SIDE ||
            !PyLong_Check(PyList_GET_ITEM(e, E_SIDE)))
            Py_RETURN_FALSE;
    }
    if (!(sides = PySet_New(NULL))) return NULL;
    for (pos = 0; PyDict_Next(best, &pos, &key, &e);) {
        if (!on_side(e)) continue;
        if (!(id = message_id(key)) || PySet_Add(sides, id) < 0) goto done;
        Py_CLEAR(id);
    }
    if (PySet_GET_SIZE(sides) == 0) { result = Py_True; goto done; }
    if (!(groups = PyDict_New())) goto done;
    for (pos = 0; PyDict_Next(best, &pos, &key, &e);) { /* id -> its keys, in the entries' order */
        if (!(id = message_id(key))) goto done;
        int in = PySet_Contains(sides, id);
        if (in < 0) goto done;
        if (in) {
            PyObject *keys = PyDict_GetItemWithError(groups, id);
            if (!keys) {
                if (PyErr_Occurred() || !(keys = PyList_New(0))) goto done;
                int failed = PyDict_SetItem(groups, id, keys) < 0;
                Py_DECREF(keys); /* groups holds it */
                if (failed) goto done;
            }
            if (PyList_Append(keys, key) < 0) goto done;
        }
        Py_CLEAR(id);
    }
    if (!(drop = PyList_New(0))) goto done;
    PyObject *gid, *keys;
    for (pos = 0; PyDict_Next(groups, &pos, &gid, &keys);) {
        Py_ssize_t n = PyList_GET_SIZE(keys), k;
        if (n < 2) continue;
        int main = 0;
        for (k = 0; k < n && !main; k++)
            main = !on_side(PyDict_GetItem(best, PyList_GET_ITEM(keys, k)));
        for (k = main ? 0 : 1; k < n; k++) {
            PyObject *one = PyList_GET_ITEM(keys, k);
            if (main && !on_side(PyDict_GetItem(best, one))) continue;
            if (PyList_Append(drop, one) < 0) goto done;
        }
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(drop); k++)
        if (PyDict_DelItem(best, PyList_GET_ITEM(drop, k)) < 0) goto done;
    result = Py_True;
done:
    Py_XDECREF(id);
    Py_XDECREF(sides);
    Py_XDECREF(groups);
    Py_XDECREF(drop);
    if (result) Py_INCREF(result);
    return result;
}

/* --- the messages a file holds, hashed (scan._row_job) ------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void) { /* CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320) */
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_of(const unsigned char *p, Py_ssize_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int u32_order(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

PyDoc_STRVAR(message_hashes_doc,
"message_hashes(entries) -> bytes | None\n\n"
"The CRC-32 of each distinct message id among the keys of a state's entries (a key up to its first\n"
"'|', UTF-8), sorted, as the bytes of an array('I'); None for anything but a dict of str keys (the\n"
"caller then works them out itself, or raises as it would).");

static PyObject *message_hashes(PyObject *self, PyObject *entries) {
    if (!configured()) return NULL;
    if (!PyDict_CheckExact(entries)) Py_RETURN_NONE;
    Py_ssize_t n = PyDict_GET_SIZE(entries), pos = 0, count = 0;
    uint32_t *values = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    if (!values) return PyErr_NoMemory();
    PyObject *key, *value;
    while (PyDict_Next(entries, &pos, &key, &value)) {
        Py_ssize_t len;
        const char *text = PyUnicode_CheckExact(key) ? PyUnicode_AsUTF8AndSize(key, &len) : NULL;
        if (!text) { /* not a str, or one UTF-8 cannot encode (a lone surrogate) */
            PyErr_Clear();
            PyMem_Free(values);
            Py_RETURN_NONE;
        }
        const char *bar = memchr(text, '|', (size_t)len);
        values[count++] = crc32_of((const unsigned char *)text, bar ? bar - text : len);
    }
    qsort(values, (size_t)count, sizeof(uint32_t), u32_order);
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < count; k++)
        if (kept == 0 || values[kept - 1] != values[k]) values[kept++] = values[k];
    PyObject *out = PyBytes_FromStringAndSize((const char *)values, kept * (Py_ssize_t)sizeof(uint32_t));
    PyMem_Free(values);
    return out;
}

/* --- sessions grouped by the messages they share (scan._groups) ------------------------------------------ */

/* LSD radix sort of (value << 32 | index) by value, 8 bits a pass; `tmp` as large as `a`. */
static void sort_by_value(uint64_t *a, uint64_t *tmp, Py_ssize_t n) {
    for (int shift = 32; shift < 64; shift += 8) {
        Py_ssize_t count[257] = {0};
        for (Py_ssize_t k = 0; k < n; k++) count[((a[k] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (Py_ssize_t k = 0; k < n; k++) tmp[count[(a[k] >> shift) & 0xFF]++] = a[k];
        memcpy(a, tmp, (size_t)n * sizeof(uint64_t));
    }
}

static Py_ssize_t root_of(Py_ssize_t *parent, Py_ssize_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

PyDoc_STRVAR(groups_doc,
"groups(hashes) -> (list[list[str]], bytes) | None\n\n"
"scan._groups (which calls it before anything is configured): the session keys of `hashes` (key -> the message hashes of each of its files, each the\n"
"bytes of an array('I')) in groups that share no hash with each other, each group in the keys' order\n"
"and the groups in the order of their first key; and every hash seen, sorted and distinct, as bytes.\n"
"None for anything else than a dict of str keys to lists of bytes whose sizes are multiples of 4.");

static PyObject *groups(PyObject *self, PyObject *hashes) { /* reads nothing configure() sets */
    if (!PyDict_CheckExact(hashes)) Py_RETURN_NONE;
    Py_ssize_t n = PyDict_GET_SIZE(hashes), pos = 0, total = 0, index = 0;
    PyObject *key, *blobs;
    while (PyDict_Next(hashes, &pos, &key, &blobs)) { /* everything checked before anything is made */
        if (!PyUnicode_CheckExact(key) || !PyList_CheckExact(blobs)) Py_RETURN_NONE;
        for (Py_ssize_t b = 0; b < PyList_GET_SIZE(blobs); b++) {
            PyObject *blob = PyList_GET_ITEM(blobs, b);
            if (!PyBytes_CheckExact(blob) || PyBytes_GET_SIZE(blob) % 4) Py_RETURN_NONE;
            total += PyBytes_GET_SIZE(blob) / 4;
        }
    }
    if (n >= ((Py_ssize_t)1 << 32)) Py_RETURN_NONE;
    uint64_t *pairs = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(uint64_t));
    uint64_t *tmp = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(uint64_t));
    Py_ssize_t *parent = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Py_ssize_t));
    Py_ssize_t *group_at = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Py_ssize_t));
    PyObject *keys = PyList_New(n), *out = NULL, *seen = NULL, *result = NULL;
    if (!pairs || !tmp || !parent || !group_at || !keys) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0;
    for (pos = 0; index < n && PyDict_Next(hashes, &pos, &key, &blobs); index++) {
        Py_INCREF(key);
        PyList_SET_ITEM(keys, index, key);
        parent[index] = index;
        group_at[index] = -1;
        for (Py_ssize_t b = 0; b < PyList_GET_SIZE(blobs); b++) {
            PyObject *blob = PyList_GET_ITEM(blobs, b);
            const char *bytes = PyBytes_AS_STRING(blob);
            for (Py_ssize_t k = 0; k + 4 <= PyBytes_GET_SIZE(blob) && at < total; k += 4) {
                uint32_t v;
                memcpy(&v, bytes + k, 4); /* an array('I') of this machine's order */
                pairs[at++] = (uint64_t)v << 32 | (uint64_t)index;
            }
        }
    }
    if (index != n || at != total) { /* changed meanwhile (nothing here runs Python code): Python does it */
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    sort_by_value(pairs, tmp, total);
    Py_ssize_t distinct = 0;
    uint32_t *values = (uint32_t *)tmp; /* the sorted pairs are in `pairs`: tmp holds the values now */
    for (Py_ssize_t k = 0; k < total; k++) {
        uint32_t v = (uint32_t)(pairs[k] >> 32);
        if (k && (uint32_t)(pairs[k - 1] >> 32) == v) {
            Py_ssize_t a = root_of(parent, (Py_ssize_t)(pairs[k - 1] & 0xFFFFFFFFu));
            Py_ssize_t b = root_of(parent, (Py_ssize_t)(pairs[k] & 0xFFFFFFFFu));
            if (a != b) parent[a] = b;
        } else {
            values[distinct++] = v;
        }
    }
    if (!(seen = PyBytes_FromStringAndSize((const char *)values, distinct * (Py_ssize_t)sizeof(uint32_t))))
        goto done;
    if (!(out = PyList_New(0))) goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t r = root_of(parent, k);
        if (group_at[r] < 0) {
            PyObject *group = PyList_New(0);
            if (!group) goto done;
            group_at[r] = PyList_GET_SIZE(out);
            int failed = PyList_Append(out, group) < 0;
            Py_DECREF(group);
            if (failed) goto done;
        }
        if (PyList_Append(PyList_GET_ITEM(out, group_at[r]), PyList_GET_ITEM(keys, k)) < 0) goto done;
    }
    result = PyTuple_Pack(2, out, seen);
done:
    PyMem_Free(pairs);
    PyMem_Free(tmp);
    PyMem_Free(parent);
    PyMem_Free(group_at);
    Py_XDECREF(keys);
    Py_XDECREF(out);
    Py_XDECREF(seen);
    return result;
}

PyDoc_STRVAR(configure_doc,
"configure(module)\n\n"
"Take claude_code's constants and the helpers the fold shares with it, once before the first fold.");

static int conf_size(PyObject *m, const char *name, Py_ssize_t *out) {
    PyObject *v = PyObject_GetAttrString(m, name);
    if (!v) return -1;
    *out = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return *out < 0 ? (PyErr_Occurred() ? -1 : (PyErr_Format(PyExc_ValueError, "%s < 0", name), -1)) : 0;
}

/* An attribute of m, kept (a new reference in *slot) when it passes `ok`. */
static int conf_obj(PyObject *m, const char *name, PyObject **slot, int (*ok)(PyObject *)) {
    PyObject *v = PyObject_GetAttrString(m, name);
    if (!v) return -1;
    if (!ok(v)) {
        Py_DECREF(v);
        PyErr_Format(PyExc_TypeError, "%s has the wrong type", name);
        return -1;
    }
    Py_XSETREF(*slot, v);
    return 0;
}


/* --- listing the transcripts (walk) ----------------------------------------------------------------- */
#ifdef WALK
/* One project folder's transcripts, as claude_code._walk_project lists them, os.scandir and DirEntry
 * included: folders (and links to them) are entered once each by device and inode, a file reachable
 * twice is listed once, a folder that cannot be read has no entries, an entry whose type or stat fails
 * is passed over, and the entries of a folder come in the order the system gives them (the order a
 * cold scan hands files out in). Every listing of the history takes this path (`lsm list` with its
 * output stored checks each file's identity): at 14,000 files in 4,000 folders Python took 100 ms,
 * this 60, two thirds of it the system's own stat and directory calls. tests/test_claude_walk.py holds
 * the two to the same entries in the same order. */

typedef struct {
    PyObject *out;   /* [(path, session key, (dev, ino, size, mtime_ns))] */
    PyObject *dirs;  /* {(dev, ino)} of the folders entered (borrowed) */
    PyObject *files; /* {(dev, ino)} of the files listed (borrowed) */
} Walk;

typedef struct {
    char *name;
    unsigned char type;
} Name;

/* Whether a name is UTF-8 (every path lsm keeps is stored and shown as text). */
static int utf8_name(const char *name) {
    const unsigned char *p = (const unsigned char *)name, *end = p + strlen(name);
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        Py_ssize_t n = utf8_len(p, end);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

/* A name kept (not "." or "..", nor one that is not UTF-8: _entries); 0, or -1 when memory ran out. */
static int keep_name(Name **names, Py_ssize_t *n, Py_ssize_t *cap, const char *name, unsigned char type) {
    if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) return 0;
    if (!utf8_name(name)) return 0;
    if (*n == *cap) {
        Py_ssize_t more = *cap ? 2 * *cap : 64;
        Name *grown = PyMem_Realloc(*names, (size_t)more * sizeof(Name));
        if (!grown) return -1;
        *names = grown, *cap = more;
    }
    size_t len = strlen(name);
    char *copy = PyMem_Malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len + 1);
    (*names)[*n].name = copy;
    (*names)[*n].type = type;
    (*n)++;
    return 0;
}

/* The entries of the folder open as fd, read whole before any is looked at (as os.scandir's list), in
 * the order the system gives them. *n is their number, 0 when the folder cannot be read; -1 (and a
 * MemoryError) when memory ran out. On Linux straight from getdents64: readdir's DIR costs an fstat and
 * two fcntl calls a folder (a history of 14,000 files has 4,000 folders). */
static Name *names_of(int fd, Py_ssize_t *n) {
    Name *names = NULL;
    Py_ssize_t cap = 0;
    int failed = 0;
    *n = 0;
#ifdef __linux__
    struct entry64 { /* the kernel's linux_dirent64 */
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
    };
    char *buf = PyMem_Malloc(32768);
    if (!buf) goto nomem;
    for (;;) {
        long got;
        Py_BEGIN_ALLOW_THREADS
        got = syscall(SYS_getdents64, fd, buf, 32768);
        Py_END_ALLOW_THREADS
        if (got <= 0) {
            failed = got < 0;
            break;
        }
        for (long at = 0; at < got;) {
            struct entry64 *e = (struct entry64 *)(buf + at);
            if (keep_name(&names, n, &cap, e->name, e->type) < 0) {
                PyMem_Free(buf);
                goto nomem;
            }
            at += e->reclen;
        }
    }
    PyMem_Free(buf);
#else
    int copy = dup(fd);
    DIR *dir = copy >= 0 ? fdopendir(copy) : NULL;
    if (!dir) {
        if (copy >= 0) close(copy);
        return NULL;
    }
    struct dirent *e;
    for (;;) {
        errno = 0;
        if (!(e = readdir(dir))) break;
        if (keep_name(&names, n, &cap, e->d_name, e->d_type) < 0) {
            closedir(dir);
            goto nomem;
        }
    }
    failed = errno != 0;
    closedir(dir);
#endif
    if (failed) { /* os.scandir raised: the folder counts as unreadable */
        for (Py_ssize_t k = 0; k < *n; k++) PyMem_Free(names[k].name);
        PyMem_Free(names);
        names = NULL, *n = 0;
    }
    return names;
nomem:
    for (Py_ssize_t k = 0; k < *n; k++) PyMem_Free(names[k].name);
    PyMem_Free(names);
    *n = -1;
    PyErr_NoMemory();
    return NULL;
}

static void free_names(Name *names, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) PyMem_Free(names[k].name);
    PyMem_Free(names);
}

/* folder + "/" + name, as os.scandir joins them (no second slash after one that ends the folder). */
static char *joined(const char *folder, const char *name) {
    size_t a = strlen(folder), b = strlen(name);
    int sep = a > 0 && folder[a - 1] != '/';
    char *out = PyMem_Malloc(a + sep + b + 1);
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, folder, a);
    if (sep) out[a] = '/';
    memcpy(out + a + sep, name, b + 1);
    return out;
}

/* A (dev, ino) key added to set: 1 when it was new, 0 when there already, -1 on error. */
static int add_id(PyObject *set, dev_t dev, ino_t ino) {
    PyObject *key = Py_BuildValue("(KK)", (unsigned long long)dev, (unsigned long long)ino);
    if (!key) return -1;
    int there = PySet_Contains(set, key);
    if (there == 0 && PySet_Add(set, key) < 0) there = -1;
    Py_DECREF(key);
    return there < 0 ? -1 : !there;
}

/* The folder name in the folder open as at, opened for listing the first time it is entered
 * (common.first_visit: by device and inode, links followed). -1 when it was entered before or cannot be
 * opened (listed as empty, as os.scandir's failure is); *err is -1 when that is a Python error. */
static int enter(Walk *w, int at, const char *name, int *err) {
    *err = 0;
    int fd;
    struct stat st;
    Py_BEGIN_ALLOW_THREADS
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
    }
    Py_END_ALLOW_THREADS
    if (fd < 0) return -1;
    int fresh = add_id(w->dirs, st.st_dev, st.st_ino);
    if (fresh <= 0) {
        close(fd);
        *err = fresh;
        return -1;
    }
    return fd;
}

enum { K_OTHER = 0, K_DIR, K_FILE, K_FAILED };

/* What DirEntry.is_dir() / is_file() say of the entry name in the folder open as at (links followed):
 * K_FAILED where they raise. *st is filled (and *have set) when a stat was needed, as DirEntry keeps it
 * for .stat(). */
static int kind_at(int at, const char *name, unsigned char type, struct stat *st, int *have) {
    *have = 0;
    if (type == DT_DIR) return K_DIR;
    if (type == DT_REG) return K_FILE;
    if (type != DT_LNK && type != DT_UNKNOWN) return K_OTHER;
    int rc, err = 0;
    Py_BEGIN_ALLOW_THREADS
    rc = fstatat(at, name, st, 0);
    if (rc != 0) err = errno;
    Py_END_ALLOW_THREADS
    if (rc != 0) return err == ENOENT ? K_OTHER : K_FAILED; /* a dangling link is neither */
    *have = 1;
    return S_ISDIR(st->st_mode) ? K_DIR : S_ISREG(st->st_mode) ? K_FILE : K_OTHER;
}

/* A listed file: (folder/name, key, identity) appended unless a file of the same device and inode was.
 * 0, or -1 on error. A file whose stat fails now (gone since its folder was read) is passed over. */
static int add_file(Walk *w, int at, const char *folder, const char *name, PyObject *key, struct stat *st,
                    int have) {
    if (!have) {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = fstatat(at, name, st, AT_SYMLINK_NOFOLLOW);
        Py_END_ALLOW_THREADS
        if (rc != 0) return 0;
    }
    int fresh = add_id(w->files, st->st_dev, st->st_ino);
    if (fresh <= 0) return fresh;
#ifdef __APPLE__
    long long mtime_ns = (long long)st->st_mtimespec.tv_sec * 1000000000LL + st->st_mtimespec.tv_nsec;
#else
    long long mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
#endif
    char *path = joined(folder, name);
    if (!path) return -1;
    PyObject *text = PyUnicode_DecodeFSDefault(path);
    PyMem_Free(path);
    if (!text) return -1;
    PyObject *row = Py_BuildValue("(NO(KKLL))", text, key, (unsigned long long)st->st_dev,
                                  (unsigned long long)st->st_ino, (long long)st->st_size, mtime_ns);
    if (!row) return -1;
    int rc = PyList_Append(w->out, row);
    Py_DECREF(row);
    return rc;
}

static int ends_jsonl(const char *name, size_t *len) {
    *len = strlen(name);
    return *len >= 6 && memcmp(name + *len - 6, ".jsonl", 6) == 0;
}

/* claude_code._files_under: every transcript below the session folder name (in the folder open as at,
 * whose path is folder), listed under key. */
static int files_under(Walk *w, int at, const char *folder, const char *name, PyObject *key, int depth) {
    if (depth > 64) return 0; /* deeper than any real tree: links that keep finding new folders */
    int err, fd = enter(w, at, name, &err);
    if (fd < 0) return err;
    char *path = joined(folder, name);
    Py_ssize_t n = 0;
    Name *names = path ? names_of(fd, &n) : NULL;
    int rc = !path || n < 0 ? -1 : 0;
    for (Py_ssize_t k = 0; k < n && rc == 0; k++) {
        struct stat st;
        int have;
        size_t len;
        int kind = kind_at(fd, names[k].name, names[k].type, &st, &have);
        if (kind == K_DIR) rc = files_under(w, fd, path, names[k].name, key, depth + 1);
        else if (kind == K_FILE && ends_jsonl(names[k].name, &len))
            rc = add_file(w, fd, path, names[k].name, key, &st, have);
    }
    if (n > 0) free_names(names, n);
    PyMem_Free(path);
    close(fd);
    return rc;
}

/* A key from a name: the whole name, or without its ".jsonl" (len is the name's length). */
static PyObject *key_of(const char *name, size_t len, int file) {
    return PyUnicode_DecodeFSDefaultAndSize(name, (Py_ssize_t)len - (file ? 6 : 0));
}

/* claude_code._walk_project: the transcripts of one project folder, entered already. */
static int walk_project(Walk *w, const char *top) {
    int fd;
    Py_BEGIN_ALLOW_THREADS
    fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    Py_END_ALLOW_THREADS
    if (fd < 0) return 0; /* os.scandir's failure: no entries */
    Py_ssize_t m;
    Name *entries = names_of(fd, &m);
    int rc = m < 0 ? -1 : 0;
    for (Py_ssize_t k = 0; k < m && rc == 0; k++) {
        const char *entry = entries[k].name;
        struct stat st;
        int have;
        size_t len;
        int what = kind_at(fd, entry, entries[k].type, &st, &have);
        int file = what == K_FILE && ends_jsonl(entry, &len);
        if (what != K_DIR && !file) continue;
        PyObject *key = key_of(entry, what == K_DIR ? strlen(entry) : len, file);
        if (!key) rc = -1;
        else if (what == K_DIR) rc = files_under(w, fd, top, entry, key, 0);
        else rc = add_file(w, fd, top, entry, key, &st, have);
        Py_XDECREF(key);
    }
    if (m > 0) free_names(entries, m);
    close(fd);
    return rc;
}

PyDoc_STRVAR(walk_doc, "walk(folder, dirs, files) -> [(path, session key, (dev, ino, size, mtime_ns))]: the "
                       "transcripts of one project folder, as claude_code._walk_project lists them; dirs and files "
                       "are the sets of (dev, ino) of the folders entered and the files listed, updated.");

static PyObject *walk(PyObject *self, PyObject *args) {
    PyObject *folder, *bytes = NULL;
    Walk w = {NULL, NULL, NULL};
    if (!PyArg_ParseTuple(args, "UO!O!", &folder, &PySet_Type, &w.dirs, &PySet_Type, &w.files)) return NULL;
    if (!PyUnicode_FSConverter(folder, &bytes)) return NULL;
    w.out = PyList_New(0);
    if (w.out && walk_project(&w, PyBytes_AS_STRING(bytes)) < 0) Py_CLEAR(w.out);
    Py_DECREF(bytes);
    return w.out;
}
#endif


/* --- the listing's signature (signature_text) ---------------------------------------------------------- */
/* What sources.entries_signature hashes after the redactor's digest, byte for byte: each entry as
 * f"{path}\0{key}\0{ident}\n", in the order of sorted(entries). At 14,000 files Python took 19 ms,
 * nearly all of it formatting the identity tuples; this takes 3. */

typedef struct {
    const char *path, *key;
    Py_ssize_t plen, klen;
    long long v[4];
} SigRow;

static int bytes_order(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn) {
    int c = memcmp(a, b, (size_t)(an < bn ? an : bn)); /* UTF-8 sorts as its code points do */
    return c ? c : (an > bn) - (an < bn);
}

static int sig_order(const void *x, const void *y) {
    const SigRow *a = x, *b = y;
    int c = bytes_order(a->path, a->plen, b->path, b->plen);
    if (!c) c = bytes_order(a->key, a->klen, b->key, b->klen);
    for (int k = 0; !c && k < 4; k++) c = (a->v[k] > b->v[k]) - (a->v[k] < b->v[k]);
    return c;
}

/* v in decimal at o, as Python's repr writes an int; returns the end. */
static char *decimal(char *o, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do tmp[n++] = (char)('0' + u % 10); while (u /= 10);
    if (v < 0) *o++ = '-';
    while (n) *o++ = tmp[--n];
    return o;
}

PyDoc_STRVAR(signature_text_doc, "signature_text(entries) -> bytes | None: the text sources.entries_signature "
                                 "hashes for these (path, key, (4 ints)) entries; None for any other shape.");

static PyObject *signature_text(PyObject *self, PyObject *entries) {
    if (!PyList_CheckExact(entries)) Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(entries), total = 0;
    SigRow *rows = PyMem_Calloc((size_t)(n ? n : 1), sizeof(SigRow));
    if (!rows) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(entries, i), *ident;
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 3) goto other;
        PyObject *path = PyTuple_GET_ITEM(e, 0), *key = PyTuple_GET_ITEM(e, 1);
        ident = PyTuple_GET_ITEM(e, 2);
        if (!PyUnicode_CheckExact(path) || !PyUnicode_CheckExact(key) || !PyTuple_CheckExact(ident) ||
            PyTuple_GET_SIZE(ident) != 4)
            goto other;
        if (!(rows[i].path = PyUnicode_AsUTF8AndSize(path, &rows[i].plen)) ||
            !(rows[i].key = PyUnicode_AsUTF8AndSize(key, &rows[i].klen))) {
            PyErr_Clear(); /* not UTF-8 (a lone surrogate): Python's way says so */
            goto other;
        }
        for (int k = 0; k < 4; k++) {
            PyObject *v = PyTuple_GET_ITEM(ident, k);
            int overflow;
            if (!PyLong_CheckExact(v)) goto other;
            rows[i].v[k] = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || (rows[i].v[k] == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                goto other;
            }
        }
        total += rows[i].plen + rows[i].klen + 2 + 4 * 21 + 8 + 1;
    }
    qsort(rows, (size_t)n, sizeof(SigRow), sig_order);
    char *buf = PyMem_Malloc((size_t)(total ? total : 1)), *o = buf;
    if (!buf) {
        PyMem_Free(rows);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        memcpy(o, rows[i].path, (size_t)rows[i].plen);
        o += rows[i].plen;
        *o++ = '\0';
        memcpy(o, rows[i].key, (size_t)rows[i].klen);
        o += rows[i].klen;
        *o++ = '\0';
        *o++ = '(';
        for (int k = 0; k < 4; k++) {
            o = decimal(o, rows[i].v[k]);
            if (k < 3) *o++ = ',', *o++ = ' ';
        }
        *o++ = ')', *o++ = '\n';
    }
    PyMem_Free(rows);
    PyObject *out = PyBytes_FromStringAndSize(buf, o - buf);
    PyMem_Free(buf);
    return out;
other:
    PyMem_Free(rows);
    Py_RETURN_NONE;
}

static int is_str(PyObject *v) { return PyUnicode_CheckExact(v); }
static int is_callable(PyObject *v) { return PyCallable_Check(v); }
static int is_frozenset(PyObject *v) { return PyFrozenSet_CheckExact(v); }
static int is_str_tuple(PyObject *v) {
    if (!PyTuple_CheckExact(v)) return 0;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(v); k++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(v, k))) return 0;
    return 1;
}

/* The entry layout the merge loops (and better()) are written for: claude_code's E_* must match it. */
static int conf_layout(PyObject *m) {
    static const struct { const char *name; Py_ssize_t at; } layout[] = {
        {"E_MODEL", E_MODEL}, {"E_IN", E_IN}, {"E_OUT", E_OUT}, {"E_CC", E_CC},
        {"E_CR", E_CR}, {"E_CC1H", E_CC1H}, {"E_SIDE", E_SIDE},
    };
    for (size_t k = 0; k < sizeof(layout) / sizeof(layout[0]); k++) {
        Py_ssize_t at;
        if (conf_size(m, layout[k].name, &at) < 0) return -1;
        if (at != layout[k].at) {
            PyErr_Format(PyExc_ValueError, "%s is %zd, not %zd", layout[k].name, at, layout[k].at);
            return -1;
        }
    }
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *m) {
    Py_ssize_t mc;
    if (conf_size(m, "RECENT_KEEP", &recent_keep) < 0 || conf_size(m, "CTX_HISTORY", &ctx_history) < 0 ||
        conf_size(m, "CMDS_KEEP", &cmds_keep) < 0 || conf_size(m, "COMMAND_CHARS", &command_chars) < 0 ||
        conf_size(m, "FAILS_KEEP", &fails_keep) < 0 || conf_size(m, "INTERRUPTS_KEEP", &interrupts_keep) < 0 ||
        conf_size(m, "MAX_COUNT", &mc) < 0 || conf_obj(m, "NO_BRANCH", &no_branch, is_str) < 0 ||
        conf_obj(m, "SYNTHETIC", &synthetic, is_str) < 0 ||
        conf_obj(m, "DICT_TYPES", &dict_types, is_frozenset) < 0 ||
        conf_obj(m, "INTERRUPT_PREFIX", &interrupt_prefix, is_str) < 0 ||
        conf_obj(m, "NOISE_PREFIXES", &noise_prefixes, is_str_tuple) < 0 ||
        conf_obj(m, "CLEAR_COMMAND", &clear_command, is_str) < 0 ||
        conf_obj(m, "_better", &better_fn, is_callable) < 0 ||
        conf_obj(m, "_fresh_context", &fresh_context_fn, is_callable) < 0 ||
        conf_obj(m, "title_from", &title_fn, is_callable) < 0 ||
        conf_obj(m, "_minute", &minute_fn, is_callable) < 0 || conf_size(m, "E_TS", &e_ts) < 0 ||
        conf_layout(m) < 0) {
        recent_keep = e_ts = -1; /* fold and forget refuse to run half configured */
        return NULL;
    }
    max_count = mc;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS, fold_doc},
    {"forget", forget, METH_VARARGS, forget_doc},
    {"minute", minute, METH_O, minute_doc},
    {"usage_history", usage_history, METH_O, history_doc},
    {"aggregate", aggregate, METH_VARARGS, aggregate_doc},
    {"drop_replays", drop_replays, METH_O, drop_replays_doc},
    {"message_hashes", message_hashes, METH_O, message_hashes_doc},
    {"groups", groups, METH_O, groups_doc},
    {"signature_text", signature_text, METH_O, signature_text_doc},
#ifdef WALK
    {"walk", walk, METH_VARARGS, walk_doc},
#endif
    {"configure", configure, METH_O, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_claude_fold", NULL, -1, methods};

PyMODINIT_FUNC PyInit__claude_fold(void) {
    struct { PyObject **slot; const char *name; } keys[] = {
        {&k_lines, "lines"}, {&k_first_ts, "first_ts"}, {&k_last_ts, "last_ts"}, {&k_branch, "branch"},
        {&k_cwd, "cwd"}, {&k_recent, "recent"}, {&k_entries, "entries"}, {&k_tool_calls, "tool_calls"},
        {&k_cmds, "cmds"}, {&k_ctx, "ctx"}, {&k_ctx_hist, "ctx_hist"}, {&k_peak_ctx, "peak_ctx"},
        {&k_last_model, "last_model"}, {&k_fork, "fork"}, {&k_prompts, "prompts"},
        {&k_turns, "turns_since_compaction"}, {&k_first_prompt, "first_prompt"},
        {&k_interruptions, "interruptions"}, {&k_recent_int, "recent_int"}, {&k_tool_errors, "tool_errors"},
        {&k_fails, "fails"}, {&newline, "\n"},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (!(*keys[k].slot = PyUnicode_InternFromString(keys[k].name))) return NULL;
    if (!(unknown_model = PyUnicode_InternFromString("unknown"))) return NULL;
    crc_init();
    return PyModule_Create(&module);
}
