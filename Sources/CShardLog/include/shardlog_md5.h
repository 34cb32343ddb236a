#ifndef SHARDLOG_MD5_H
#define SHARDLOG_MD5_H
#include <stddef.h>
#include <stdint.h>

/// MD5 of `length` bytes at `key`, as Kinesis reads it for routing: the 16-byte digest as an unsigned 128-bit
/// big-endian integer, returned as its high (`out[0]`) and low (`out[1]`) 64 bits. No allocation; keys of up to
/// 55 bytes take one MD5 block, up to 119 two.
void shardlog_md5_hashkey(const void *key, size_t length, uint64_t out[2]);

/// The hash keys of `count` keys stored back to back: key `i` is `bytes[offsets[i] ..< offsets[i + 1]]` (so
/// `offsets` has `count + 1` entries, non-decreasing). Writes `out[2i]` (high 64 bits) and `out[2i + 1]` (low).
/// Runs 8 keys at a time with AVX2 when the CPU has it (checked once, at run time), the scalar code otherwise.
void shardlog_md5_hashkeys(const uint8_t *bytes, const intptr_t *offsets, size_t count, uint64_t *out);

/// The same as ``shardlog_md5_hashkeys`` with the scalar code only (the path of CPUs without AVX2; for tests).
void shardlog_md5_hashkeys_scalar(const uint8_t *bytes, const intptr_t *offsets, size_t count, uint64_t *out);

/// How many keys ``shardlog_md5_hashkeys`` hashes at once on this CPU: 8 with AVX2, 1 otherwise.
int shardlog_md5_lanes(void);

#endif
