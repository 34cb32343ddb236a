#ifndef CSHARDLOG_H
#define CSHARDLOG_H
#include <stddef.h>
#include <stdint.h>
#include "shardlog_md5.h"
#include "shardlog_json.h"

/// CRC-32C (Castagnoli) of `length` bytes at `data`, continuing from `crc` (start with 0).
/// Uses SSE4.2 when the CPU has it, a slice-by-8 table otherwise.
uint32_t shardlog_crc32c(uint32_t crc, const void *data, size_t length);

/// The same CRC-32C computed with the slice-by-8 table only (the path of CPUs without SSE4.2); the table is built
/// once, thread-safely, on first use.
uint32_t shardlog_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// Makes `length` bytes at `offset` of `fd` read as zeros while keeping them allocated
/// (`fallocate(FALLOC_FL_ZERO_RANGE)`); returns 0 on success, -1 with errno when unsupported.
int shardlog_zero_range(int fd, int64_t offset, int64_t length);

/// Whether ``shardlog_futex_wait``/``shardlog_futex_wake`` work on this platform (Linux: 1, elsewhere: 0).
int shardlog_futex_supported(void);

/// `futex(FUTEX_WAIT)` on a 32-bit word in shared memory (not private: waiters in other processes mapping the same
/// file page are woken by ``shardlog_futex_wake``): sleeps while `*word == expected`, at most `timeout_ns`.
/// Returns 0 when woken, -1 with errno (`EAGAIN`: the word differed, `ETIMEDOUT`, `EINTR`; `ENOSYS` off Linux).
int shardlog_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/// `futex(FUTEX_WAKE)` (not private) of up to `count` waiters on `word`; returns how many woke, -1 with errno.
int shardlog_futex_wake(uint32_t *word, int count);

/// Decodes padded base64 (RFC 4648, standard alphabet) of `length` bytes at `text` into `out`, which has room for
/// `length / 4 * 3` bytes. Returns the number of bytes written, or -1 when `text` is not base64 (a length that is no
/// multiple of 4, a byte outside the alphabet, padding that is not at the end or longer than two; `out` then holds a
/// partial result). Accepts and refuses exactly what ShardLogWire's `Base64Text.decode` does.
ptrdiff_t shardlog_base64_decode(const uint8_t *text, size_t length, uint8_t *out);

/// glibc's allocator: keeps up to `bytes` of freed memory at the top of each arena instead of returning it to the
/// system (`M_TRIM_THRESHOLD`), and serves allocations below `bytes` from the arenas rather than from their own
/// mappings (`M_MMAP_THRESHOLD`), so that buffers allocated and freed per request reuse the same pages instead of
/// faulting fresh zeroed ones in every time. Returns 1 when set, 0 where the C library is not glibc.
int shardlog_malloc_keep_freed(size_t bytes);

#endif
