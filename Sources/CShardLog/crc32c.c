// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by Kafka record batches and iSCSI.
#define _GNU_SOURCE
#include "CShardLog.h"
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

// Built exactly once (pthread_once), before any thread reads it: no thread ever sees a half-built table and no two
// threads write it at once.
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        for (int k = 1; k < 8; k++) table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
    }
}

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t n) {
    pthread_once(&table_once, build_table);
    crc = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

uint32_t shardlog_crc32c(uint32_t crc, const void *data, size_t length) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return crc32c_hw(crc, (const unsigned char *)data, length);
#endif
    return crc32c_soft(crc, (const unsigned char *)data, length);
}

uint32_t shardlog_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    return crc32c_soft(crc, (const unsigned char *)data, length);
}

int shardlog_zero_range(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return fallocate(fd, FALLOC_FL_ZERO_RANGE, (off_t)offset, (off_t)length);
#else
    errno = EOPNOTSUPP;
    return -1;
#endif
}
