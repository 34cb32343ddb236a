// JSON validation and top-level key extraction for `shardlog put --format jsonl`: an iterative scanner (an explicit
// stack of container kinds, no recursion) that checks one line is one JSON value and finds one member of the
// top-level object. It only answers "valid, here is the key" quickly; every refusal's reason and position come from
// the Swift parser (ShardLogIngest/JSONLine.swift), which the caller runs when this one does not return 1 or 0.
#include "shardlog_json.h"
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

// 1 for the bytes a JSON string cannot hold as they are: '"', '\\' and control characters.
static const uint8_t special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

static inline int is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline int is_hex(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE const uint8_t *skip_space(const uint8_t *s, const uint8_t *e) {
    // Most positions have no space: one comparison decides.
    if (s < e && *s > ' ') return s;
    while (s < e && is_space(*s)) s++;
    return s;
}

// The first byte at or after `s` that is special in a string, or `e`.
ALWAYS_INLINE const uint8_t *next_special(const uint8_t *s, const uint8_t *e) {
#if defined(__x86_64__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i below = _mm_set1_epi8(0x1F);
    while (e - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)s);
        // c < 0x20 exactly when min(c, 0x1F) == c.
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(v, below), v));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return s + __builtin_ctz((unsigned)mask);
        s += 16;
    }
#endif
    while (s < e && !special[*s]) s++;
    return s;
}

// Moves past a string whose opening quote is at s[-1]; returns the closing quote's position, or NULL when the string
// is malformed. `*plain` says whether it has no escape.
ALWAYS_INLINE const uint8_t *scan_string(const uint8_t *s, const uint8_t *e, int *plain) {
    *plain = 1;
    for (;;) {
        s = next_special(s, e);
        if (s >= e) return NULL;
        uint8_t c = *s;
        if (c == '"') return s;
        if (c < 0x20) return NULL;
        // A backslash.
        *plain = 0;
        if (e - s < 2) return NULL;
        uint8_t x = s[1];
        if (x == 'u') {
            if (e - s < 6 || !is_hex(s[2]) || !is_hex(s[3]) || !is_hex(s[4]) || !is_hex(s[5])) return NULL;
            s += 6;
        } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' || x == 'r' || x == 't') {
            s += 2;
        } else {
            return NULL;
        }
    }
}

// The first byte at or after `s` that is not a digit, or `e`.
ALWAYS_INLINE const uint8_t *skip_digits(const uint8_t *s, const uint8_t *e) {
#if defined(__x86_64__)
    if (e - s >= 16) {
        const __m128i zero = _mm_set1_epi8('0');
        const __m128i nine = _mm_set1_epi8('9');
        for (;;) {
            __m128i v = _mm_loadu_si128((const __m128i *)s);
            __m128i digit = _mm_and_si128(
                _mm_cmpeq_epi8(_mm_max_epu8(v, zero), v), _mm_cmpeq_epi8(_mm_min_epu8(v, nine), v));
            unsigned other = ~(unsigned)_mm_movemask_epi8(digit) & 0xFFFFu;
            if (other) return s + __builtin_ctz(other);
            s += 16;
            if (e - s < 16) break;
        }
    }
#endif
    while (s < e && is_digit(*s)) s++;
    return s;
}

// Moves past a number at `s`; NULL when malformed.
ALWAYS_INLINE const uint8_t *scan_number(const uint8_t *s, const uint8_t *e) {
    if (s < e && *s == '-') s++;
    if (s >= e || !is_digit(*s)) return NULL;
    if (*s == '0') {
        s++;
    } else {
        s = skip_digits(s, e);
    }
    if (s < e && *s == '.') {
        s++;
        if (s >= e || !is_digit(*s)) return NULL;
        s = skip_digits(s, e);
    }
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        if (s >= e || !is_digit(*s)) return NULL;
        while (s < e && is_digit(*s)) s++;
    }
    return s;
}

static inline const uint8_t *scan_literal(const uint8_t *s, const uint8_t *e, const char *word, size_t n) {
    if ((size_t)(e - s) < n || memcmp(s, word, n) != 0) return NULL;
    return s + n;
}

int shardlog_json_scan(
    const uint8_t *p, size_t n, const uint8_t *name, size_t name_length, size_t *start, size_t *end) {
    const uint8_t *s = p;
    const uint8_t *e = p + n;
    uint8_t stack[SHARDLOG_JSON_MAX_DEPTH];  // 1: object, 2: array
    int depth = 0;
    int found = 0;  // 1: a plain string or number found; 2: the member is there but needs the caller's decoding
    int plain;
    s = skip_space(s, e);

value:
    if (s >= e) return -1;
    switch (*s) {
    case '{':
        if (depth == SHARDLOG_JSON_MAX_DEPTH) {
            *start = (size_t)(s - p);
            return -2;
        }
        stack[depth++] = 1;
        s = skip_space(s + 1, e);
        if (s < e && *s == '}') {
            s++;
            depth--;
            goto after_value;
        }
        goto member;
    case '[':
        if (depth == SHARDLOG_JSON_MAX_DEPTH) {
            *start = (size_t)(s - p);
            return -2;
        }
        stack[depth++] = 2;
        s = skip_space(s + 1, e);
        if (s < e && *s == ']') {
            s++;
            depth--;
            goto after_value;
        }
        goto value;
    case '"':
        s = scan_string(s + 1, e, &plain);
        if (!s) return -1;
        s++;
        goto after_value;
    case 't': s = scan_literal(s, e, "true", 4); break;
    case 'f': s = scan_literal(s, e, "false", 5); break;
    case 'n': s = scan_literal(s, e, "null", 4); break;
    default: s = scan_number(s, e); break;
    }
    if (!s) return -1;

after_value:
    s = skip_space(s, e);
    if (depth == 0) {
        if (s != e) return -1;
        return found == 1 ? 1 : 0;
    }
    if (s >= e) return -1;
    if (stack[depth - 1] == 1) {
        if (*s == ',') {
            s = skip_space(s + 1, e);
            goto member;
        }
        if (*s != '}') return -1;
    } else {
        if (*s == ',') {
            s = skip_space(s + 1, e);
            goto value;
        }
        if (*s != ']') return -1;
    }
    s++;
    depth--;
    goto after_value;

member:
    if (s >= e || *s != '"') return -1;
    {
        const uint8_t *key = s + 1;
        s = scan_string(key, e, &plain);
        if (!s) return -1;
        size_t key_length = (size_t)(s - key);
        s = skip_space(s + 1, e);
        if (s >= e || *s != ':') return -1;
        s = skip_space(s + 1, e);
        if (depth != 1 || name == NULL || found) goto value;
        if (!plain) {
            // An escaped key may spell the name: the caller decides.
            found = 2;
            goto value;
        }
        if (key_length != name_length || memcmp(key, name, name_length) != 0) goto value;
        if (s < e && *s == '"') {
            const uint8_t *contents = s + 1;
            s = scan_string(contents, e, &plain);
            if (!s) return -1;
            found = plain ? 1 : 2;
            *start = (size_t)(contents - p);
            *end = (size_t)(s - p);
            s++;
            goto after_value;
        }
        if (s < e && (*s == '-' || is_digit(*s))) {
            const uint8_t *literal = s;
            s = scan_number(s, e);
            if (!s) return -1;
            found = 1;
            *start = (size_t)(literal - p);
            *end = (size_t)(s - p);
            goto after_value;
        }
        found = 2;
        goto value;
    }
}

size_t shardlog_find_byte(const uint8_t *p, size_t n, uint8_t byte) {
    const void *hit = memchr(p, byte, n);
    return hit ? (size_t)((const uint8_t *)hit - p) : n;
}
