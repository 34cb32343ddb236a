#ifndef SHARDLOG_JSON_H
#define SHARDLOG_JSON_H
#include <stddef.h>
#include <stdint.h>

/// The deepest nesting of arrays and objects ``shardlog_json_scan`` accepts (deeper input returns -2).
#define SHARDLOG_JSON_MAX_DEPTH 512

/// Checks that `p[0..n)` is one JSON value (RFC 8259; whitespace around it allowed) and, when `name` is not NULL,
/// finds the first member named `name` (`name_length` bytes, compared with the raw key bytes) of the top-level
/// object. Strings are checked for control characters and escapes, not for UTF-8 (as the Swift parser does).
/// No allocation; strings are scanned 16 bytes at a time with SSE2 on x86-64.
/// Returns:
///  1: valid, and the member's value is a string without escapes (`*start..<*end` is its contents) or a number
///     (`*start..<*end` is its literal);
///  0: valid, and no such value: `name` is NULL, the value is absent or of another kind, a string has escapes, a key
///     has escapes, or the top level is not an object (the caller decodes the value itself);
/// -1: not valid JSON (the caller's parser finds the reason and position);
/// -2: nested deeper than SHARDLOG_JSON_MAX_DEPTH; `*start` is the byte of the opening bracket that is too deep.
int shardlog_json_scan(
    const uint8_t *p, size_t n, const uint8_t *name, size_t name_length, size_t *start, size_t *end);

/// The position of the first `byte` in `p[0..n)`, or `n` when there is none (memchr).
size_t shardlog_find_byte(const uint8_t *p, size_t n, uint8_t byte);

#endif
