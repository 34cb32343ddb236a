#include "CShardLog.h"
#include <pthread.h>

// One table per position of a group of four digits: the digit's value shifted to its place in the group's 24 bits,
// and bit 31 for any byte outside the alphabet (`=` too: padding is handled apart). Built exactly once
// (pthread_once), before any thread reads it.
static uint32_t group_values[4][256];
static pthread_once_t group_values_once = PTHREAD_ONCE_INIT;

static void build_group_values(void) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int p = 0; p < 4; p++) {
        for (int b = 0; b < 256; b++) group_values[p][b] = 0x80000000u;
        for (int v = 0; v < 64; v++) group_values[p][(unsigned char)alphabet[v]] = (uint32_t)v << (18 - 6 * p);
    }
}

ptrdiff_t shardlog_base64_decode(const uint8_t *text, size_t length, uint8_t *out) {
    if (length % 4 != 0) return -1;
    if (length == 0) return 0;
    pthread_once(&group_values_once, build_group_values);
    size_t padding = 0;
    if (text[length - 1] == '=') padding = text[length - 2] == '=' ? 2 : 1;
    uint32_t invalid = 0;
    size_t i = 0;
    uint8_t *o = out;
    for (; i + 4 < length; i += 4) {
        uint32_t v = group_values[0][text[i]] | group_values[1][text[i + 1]] | group_values[2][text[i + 2]]
            | group_values[3][text[i + 3]];
        invalid |= v;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    // The last group, whose last one or two digits may be padding.
    uint32_t v = group_values[0][text[i]] | group_values[1][text[i + 1]]
        | (padding == 2 ? 0 : group_values[2][text[i + 2]]) | (padding >= 1 ? 0 : group_values[3][text[i + 3]]);
    invalid |= v;
    *o++ = (uint8_t)(v >> 16);
    if (padding < 2) *o++ = (uint8_t)(v >> 8);
    if (padding < 1) *o++ = (uint8_t)v;
    return (invalid & 0x80000000u) ? -1 : (ptrdiff_t)(o - out);
}
