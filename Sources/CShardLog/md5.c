// MD5 of partition keys for routing (RFC 1321): a scalar version for one key and an AVX2 version that hashes 8
// keys at once, chosen at run time. Neither allocates; the message tail (padding and bit length) is built in a
// 128-byte buffer on the stack, and whole 64-byte blocks are read straight from the key.
#include "shardlog_md5.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MD5_A0 0x67452301u
#define MD5_B0 0xefcdab89u
#define MD5_C0 0x98badcfeu
#define MD5_D0 0x10325476u

// The 64 steps: round function, registers in rotation, message word, constant, rotation. Each user defines
// S1..S4 (rounds F, G, H, I) for its word type.
#define MD5_STEPS                                                                                                      \
    S1(a, b, c, d, 0, 0xd76aa478u, 7) S1(d, a, b, c, 1, 0xe8c7b756u, 12) S1(c, d, a, b, 2, 0x242070dbu, 17)           \
    S1(b, c, d, a, 3, 0xc1bdceeeu, 22) S1(a, b, c, d, 4, 0xf57c0fafu, 7) S1(d, a, b, c, 5, 0x4787c62au, 12)           \
    S1(c, d, a, b, 6, 0xa8304613u, 17) S1(b, c, d, a, 7, 0xfd469501u, 22) S1(a, b, c, d, 8, 0x698098d8u, 7)           \
    S1(d, a, b, c, 9, 0x8b44f7afu, 12) S1(c, d, a, b, 10, 0xffff5bb1u, 17) S1(b, c, d, a, 11, 0x895cd7beu, 22)        \
    S1(a, b, c, d, 12, 0x6b901122u, 7) S1(d, a, b, c, 13, 0xfd987193u, 12) S1(c, d, a, b, 14, 0xa679438eu, 17)        \
    S1(b, c, d, a, 15, 0x49b40821u, 22)                                                                                \
    S2(a, b, c, d, 1, 0xf61e2562u, 5) S2(d, a, b, c, 6, 0xc040b340u, 9) S2(c, d, a, b, 11, 0x265e5a51u, 14)           \
    S2(b, c, d, a, 0, 0xe9b6c7aau, 20) S2(a, b, c, d, 5, 0xd62f105du, 5) S2(d, a, b, c, 10, 0x02441453u, 9)           \
    S2(c, d, a, b, 15, 0xd8a1e681u, 14) S2(b, c, d, a, 4, 0xe7d3fbc8u, 20) S2(a, b, c, d, 9, 0x21e1cde6u, 5)          \
    S2(d, a, b, c, 14, 0xc33707d6u, 9) S2(c, d, a, b, 3, 0xf4d50d87u, 14) S2(b, c, d, a, 8, 0x455a14edu, 20)          \
    S2(a, b, c, d, 13, 0xa9e3e905u, 5) S2(d, a, b, c, 2, 0xfcefa3f8u, 9) S2(c, d, a, b, 7, 0x676f02d9u, 14)           \
    S2(b, c, d, a, 12, 0x8d2a4c8au, 20)                                                                                \
    S3(a, b, c, d, 5, 0xfffa3942u, 4) S3(d, a, b, c, 8, 0x8771f681u, 11) S3(c, d, a, b, 11, 0x6d9d6122u, 16)          \
    S3(b, c, d, a, 14, 0xfde5380cu, 23) S3(a, b, c, d, 1, 0xa4beea44u, 4) S3(d, a, b, c, 4, 0x4bdecfa9u, 11)          \
    S3(c, d, a, b, 7, 0xf6bb4b60u, 16) S3(b, c, d, a, 10, 0xbebfbc70u, 23) S3(a, b, c, d, 13, 0x289b7ec6u, 4)         \
    S3(d, a, b, c, 0, 0xeaa127fau, 11) S3(c, d, a, b, 3, 0xd4ef3085u, 16) S3(b, c, d, a, 6, 0x04881d05u, 23)          \
    S3(a, b, c, d, 9, 0xd9d4d039u, 4) S3(d, a, b, c, 12, 0xe6db99e5u, 11) S3(c, d, a, b, 15, 0x1fa27cf8u, 16)         \
    S3(b, c, d, a, 2, 0xc4ac5665u, 23)                                                                                 \
    S4(a, b, c, d, 0, 0xf4292244u, 6) S4(d, a, b, c, 7, 0x432aff97u, 10) S4(c, d, a, b, 14, 0xab9423a7u, 15)          \
    S4(b, c, d, a, 5, 0xfc93a039u, 21) S4(a, b, c, d, 12, 0x655b59c3u, 6) S4(d, a, b, c, 3, 0x8f0ccc92u, 10)          \
    S4(c, d, a, b, 10, 0xffeff47du, 15) S4(b, c, d, a, 1, 0x85845dd1u, 21) S4(a, b, c, d, 8, 0x6fa87e4fu, 6)          \
    S4(d, a, b, c, 15, 0xfe2ce6e0u, 10) S4(c, d, a, b, 6, 0xa3014314u, 15) S4(b, c, d, a, 13, 0x4e0811a1u, 21)        \
    S4(a, b, c, d, 4, 0xf7537e82u, 6) S4(d, a, b, c, 11, 0xbd3af235u, 10) S4(c, d, a, b, 2, 0x2ad7d2bbu, 15)          \
    S4(b, c, d, a, 9, 0xeb86d391u, 21)

static inline uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t rotl32(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

static void compress(uint32_t state[4], const uint8_t *block) {
    uint32_t w[16];
    for (int i = 0; i < 16; i++) w[i] = load_le32(block + 4 * i);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
#define S1(a, b, c, d, i, k, s) a = rotl32(a + (d ^ (b & (c ^ d))) + w[i] + k, s) + b;
#define S2(a, b, c, d, i, k, s) a = rotl32(a + (c ^ (d & (b ^ c))) + w[i] + k, s) + b;
#define S3(a, b, c, d, i, k, s) a = rotl32(a + (b ^ c ^ d) + w[i] + k, s) + b;
#define S4(a, b, c, d, i, k, s) a = rotl32(a + (c ^ (b | ~d)) + w[i] + k, s) + b;
    MD5_STEPS
#undef S1
#undef S2
#undef S3
#undef S4
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
}

/// Builds the last one or two blocks of a `length`-byte message whose last `length % 64` bytes start at `rest`;
/// returns how many blocks (1 or 2) `tail` holds.
static inline int build_tail(uint8_t tail[128], const uint8_t *rest, size_t length) {
    size_t remaining = length % 64;
    int blocks = remaining < 56 ? 1 : 2;
    memset(tail, 0, 128);  // a constant size: a few vector stores, no call
    if (remaining) memcpy(tail, rest, remaining);
    tail[remaining] = 0x80;
    uint64_t bits = (uint64_t)length * 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(tail + blocks * 64 - 8, &bits, 8);
#else
    for (int k = 0; k < 8; k++) tail[blocks * 64 - 8 + k] = (uint8_t)(bits >> (8 * k));
#endif
    return blocks;
}

/// The digest's bytes (state words, little-endian) read as a big-endian 128-bit number.
static inline void store_hashkey(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint64_t *out) {
    out[0] = (uint64_t)__builtin_bswap32(a) << 32 | __builtin_bswap32(b);
    out[1] = (uint64_t)__builtin_bswap32(c) << 32 | __builtin_bswap32(d);
}

void shardlog_md5_hashkey(const void *key, size_t length, uint64_t out[2]) {
    const uint8_t *p = (const uint8_t *)key;
    uint32_t state[4] = {MD5_A0, MD5_B0, MD5_C0, MD5_D0};
    size_t full = length / 64;
    for (size_t i = 0; i < full; i++) compress(state, p + 64 * i);
    uint8_t tail[128];
    int blocks = build_tail(tail, p + 64 * full, length);
    compress(state, tail);
    if (blocks == 2) compress(state, tail + 64);
    store_hashkey(state[0], state[1], state[2], state[3], out);
}

void shardlog_md5_hashkeys_scalar(const uint8_t *bytes, const intptr_t *offsets, size_t count, uint64_t *out) {
    for (size_t i = 0; i < count; i++) {
        shardlog_md5_hashkey(bytes + offsets[i], (size_t)(offsets[i + 1] - offsets[i]), out + 2 * i);
    }
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2")))

/// Transposes 8 rows of 8 words (row l: 8 consecutive message words of lane l) into 8 vectors of one word each.
AVX2 static inline void transpose8(__m256i r[8], __m256i w[8]) {
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    w[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    w[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    w[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    w[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    w[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    w[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    w[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    w[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/// Hashes `n` (1–8) keys, one per 32-bit lane. Lanes whose message has fewer blocks than the longest keep their
/// state (a blend) while the others go on; unused lanes hash an empty message and are not written out.
AVX2 static void md5x8(const uint8_t *bytes, const intptr_t *offsets, size_t n, uint64_t *out) {
    const uint8_t *key[8];
    size_t full[8];
    int32_t blocks[8];
    _Alignas(32) uint8_t tail[8][128];
    int most = 0;
    for (size_t l = 0; l < 8; l++) {
        size_t length = l < n ? (size_t)(offsets[l + 1] - offsets[l]) : 0;
        key[l] = l < n ? bytes + offsets[l] : tail[l];
        full[l] = length / 64;
        blocks[l] = (int32_t)full[l] + build_tail(tail[l], key[l] + 64 * full[l], length);
        if (blocks[l] > most) most = blocks[l];
    }
    __m256i a = _mm256_set1_epi32((int)MD5_A0), b = _mm256_set1_epi32((int)MD5_B0);
    __m256i c = _mm256_set1_epi32((int)MD5_C0), d = _mm256_set1_epi32((int)MD5_D0);
    const __m256i blockCounts = _mm256_loadu_si256((const __m256i *)blocks);
    const __m256i ones = _mm256_set1_epi32(-1);
    for (int k = 0; k < most; k++) {
        __m256i low[8], high[8], w[16];
        for (int l = 0; l < 8; l++) {
            const uint8_t *p;
            if ((size_t)k < full[l]) {
                p = key[l] + 64 * (size_t)k;
            } else if (k < blocks[l]) {
                p = tail[l] + 64 * ((size_t)k - full[l]);
            } else {
                p = tail[l];  // finished: hashed but blended away below
            }
            low[l] = _mm256_loadu_si256((const __m256i *)p);
            high[l] = _mm256_loadu_si256((const __m256i *)(p + 32));
        }
        transpose8(low, w);
        transpose8(high, w + 8);
        __m256i a0 = a, b0 = b, c0 = c, d0 = d;
#define ADD _mm256_add_epi32
#define XOR _mm256_xor_si256
#define AND _mm256_and_si256
#define OR _mm256_or_si256
#define ROTL(x, s) OR(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - (s)))
#define STEP(f, a, b, i, k, s) a = ADD(ROTL(ADD(ADD(a, f), ADD(w[i], _mm256_set1_epi32((int)k))), s), b);
#define S1(a, b, c, d, i, k, s) STEP(XOR(d, AND(b, XOR(c, d))), a, b, i, k, s)
#define S2(a, b, c, d, i, k, s) STEP(XOR(c, AND(d, XOR(b, c))), a, b, i, k, s)
#define S3(a, b, c, d, i, k, s) STEP(XOR(XOR(b, c), d), a, b, i, k, s)
#define S4(a, b, c, d, i, k, s) STEP(XOR(c, OR(b, XOR(d, ones))), a, b, i, k, s)
        MD5_STEPS
#undef S1
#undef S2
#undef S3
#undef S4
#undef STEP
#undef ROTL
        __m256i live = _mm256_cmpgt_epi32(blockCounts, _mm256_set1_epi32(k));
        a = _mm256_blendv_epi8(a0, ADD(a, a0), live);
        b = _mm256_blendv_epi8(b0, ADD(b, b0), live);
        c = _mm256_blendv_epi8(c0, ADD(c, c0), live);
        d = _mm256_blendv_epi8(d0, ADD(d, d0), live);
#undef ADD
#undef XOR
#undef AND
#undef OR
    }
    uint32_t sa[8], sb[8], sc[8], sd[8];
    _mm256_storeu_si256((__m256i *)sa, a);
    _mm256_storeu_si256((__m256i *)sb, b);
    _mm256_storeu_si256((__m256i *)sc, c);
    _mm256_storeu_si256((__m256i *)sd, d);
    for (size_t l = 0; l < n; l++) store_hashkey(sa[l], sb[l], sc[l], sd[l], out + 2 * l);
}

static int has_avx2(void) { return __builtin_cpu_supports("avx2") ? 1 : 0; }
#else
static int has_avx2(void) { return 0; }
#endif

int shardlog_md5_lanes(void) { return has_avx2() ? 8 : 1; }

void shardlog_md5_hashkeys(const uint8_t *bytes, const intptr_t *offsets, size_t count, uint64_t *out) {
#if defined(__x86_64__)
    if (has_avx2() && count >= 2) {
        for (size_t i = 0; i < count; i += 8) {
            size_t n = count - i < 8 ? count - i : 8;
            md5x8(bytes, offsets + i, n, out + 2 * i);
        }
        return;
    }
#endif
    shardlog_md5_hashkeys_scalar(bytes, offsets, count, out);
}
