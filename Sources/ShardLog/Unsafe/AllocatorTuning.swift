import CShardLog

/// How the C library's allocator keeps freed memory (glibc; elsewhere nothing changes).
package enum AllocatorTuning {
    /// Keeps up to `byteCount` bytes of freed memory at the top of each allocator arena, and serves allocations
    /// smaller than that from the arenas instead of mappings of their own: buffers allocated and freed on every
    /// request (a request body, its records, the response) then reuse pages already mapped instead of having fresh
    /// zeroed pages faulted in each time, which glibc's defaults (128 KiB, adjusted upwards only after a large
    /// mapping is freed) cause for a few hundred KiB of buffers per request.
    /// - Returns: whether the setting took effect (`false` where the C library is not glibc).
    @discardableResult
    package static func keepFreedMemory(upTo byteCount: Int) -> Bool {
        shardlog_malloc_keep_freed(max(0, byteCount)) == 1
    }
}
