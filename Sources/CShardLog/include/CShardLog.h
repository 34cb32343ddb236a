#ifndef CSHARDLOG_H
#define CSHARDLOG_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `length` bytes at `data`, continuing from `crc` (start with 0).
/// Uses SSE4.2 when the CPU has it, a slice-by-8 table otherwise.
uint32_t shardlog_crc32c(uint32_t crc, const void *data, size_t length);

/// The same CRC-32C computed with the slice-by-8 table only (the path of CPUs without SSE4.2); the table is built
/// once, thread-safely, on first use.
uint32_t shardlog_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// Makes `length` bytes at `offset` of `fd` read as zeros while keeping them allocated
/// (`fallocate(FALLOC_FL_ZERO_RANGE)`); returns 0 on success, -1 with errno when unsupported.
int shardlog_zero_range(int fd, int64_t offset, int64_t length);

#endif
