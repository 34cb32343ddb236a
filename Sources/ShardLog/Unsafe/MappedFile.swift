import Atomics
import CShardLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped `MAP_SHARED`, with its descriptor: the only owner of raw pointers into segment files.
///
/// The file is preallocated (`posix_fallocate`) to its full length before it is mapped, so a full disk is an error at
/// creation, never a `SIGBUS` later. Writes go through `pwrite` (Linux's unified page cache makes them visible through
/// the mapping at once); 8-byte header words are read and written atomically through the mapping so that other
/// threads and processes can publish and observe the committed end with release/acquire ordering.
///
/// Every access is bounds-checked with `precondition`, in release builds too: ASan cannot see mapped memory.
/// Thread-safety: all methods may be called from any thread; byte ranges being written must not be read until
/// published (the appender's protocol guarantees this).
struct MappedFile: ~Copyable, @unchecked Sendable {
    // @unchecked: `base` and `fd` never change after init; concurrent use is limited to atomics, pwrite and reads of
    // published (immutable) ranges.
    private let fd: Int32
    private let base: UnsafeMutableRawPointer
    /// The mapped length in bytes.
    let byteCount: Int
    /// The file's path, for messages.
    let path: String
    /// Whether the mapping and descriptor allow writes.
    let isWritable: Bool

    /// Creates a new file of exactly `byteCount` bytes, fully allocated, whose first bytes are `header`, then maps it.
    /// - Throws: `.resourceInUse` if it exists, `.noSpace` when the disk is full (the partial file is removed).
    init(creating path: String, byteCount: Int, header: [UInt8]) throws(ShardLogError) {
        precondition(header.count <= byteCount, "segment header larger than the segment")
        // Build the file under a temporary name and link it into place only once its header is written, so a
        // reader listing the directory never maps a half-created segment; link(2) fails if the name exists.
        let temporary = path + ".creating.\(getpid())"
        let fd = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw SystemCall.error("create \(temporary)", errno: errno) }
        do throws(ShardLogError) {
            let rc = posix_fallocate(fd, 0, off_t(byteCount))
            if rc != 0 { throw SystemCall.error("preallocate \(byteCount) bytes for \(path)", errno: rc) }
            try Self.write(fd: fd, header, at: 0, path: path)
            try SystemCall.retrying("fsync \(path)") { fsync(fd) }
            if link(temporary, path) != 0 {
                let code = errno
                if code == EEXIST { throw ShardLogError(.resourceInUse, "segment file \(path) exists already") }
                throw SystemCall.error("link \(temporary) to \(path)", errno: code)
            }
            unlink(temporary)
            self.base = try Self.map(fd: fd, byteCount: byteCount, writable: true, path: path)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        self.fd = fd
        self.byteCount = byteCount
        self.path = path
        self.isWritable = true
    }

    /// Opens and maps an existing file.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - writable: map read-write (appenders) or read-only.
    ///   - byteCount: a function of the file's first bytes (at most 4 KiB, its header) and its real size giving the
    ///     length to map; it throws when they disagree. A writable file shorter than that length (torn by a power
    ///     loss) is re-extended with zeros first; a read-only one is an error.
    /// - Throws: `.resourceNotFound` if missing, `.corruption` if the header is unreadable or the file too short,
    ///   `.limitExceeded` when no descriptor or mapping is left.
    init(
        opening path: String,
        writable: Bool,
        byteCount: (_ head: [UInt8], _ fileSize: Int) throws(ShardLogError) -> Int
    ) throws(ShardLogError) {
        let fd = try SystemCall.retrying("open \(path)") {
            open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        }
        do throws(ShardLogError) {
            var st = stat()
            try SystemCall.retrying("stat \(path)") { fstat(fd, &st) }
            let size = Int(st.st_size)
            var head = [UInt8](repeating: 0, count: max(0, min(size, 4096)))
            let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 { throw SystemCall.error("read header of \(path)", errno: errno) }
            let wanted = try byteCount(Array(head.prefix(got)), size)
            guard wanted > 0 else { throw ShardLogError(.corruption, "\(path) is empty") }
            if size < wanted {
                guard writable else {
                    throw ShardLogError(
                        .corruption, "\(path) is \(size) bytes long but its header says \(wanted); it was truncated")
                }
                let rc = posix_fallocate(fd, 0, off_t(wanted))
                if rc != 0 { throw SystemCall.error("re-extend \(path) to \(wanted) bytes", errno: rc) }
            }
            self.base = try Self.map(fd: fd, byteCount: wanted, writable: writable, path: path)
            self.byteCount = wanted
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.path = path
        self.isWritable = writable
    }

    deinit {
        munmap(base, byteCount)
        close(fd)
    }

    private static func map(fd: Int32, byteCount: Int, writable: Bool, path: String) throws(ShardLogError)
        -> UnsafeMutableRawPointer
    {
        let prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        guard let p = mmap(nil, byteCount, prot, MAP_SHARED, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1)
        else { throw SystemCall.error("map \(byteCount) bytes of \(path)", errno: errno) }
        return p
    }

    private static func write(fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(ShardLogError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCall.error("write \(bytes.count) bytes at \(offset) of \(path)", errno: errno)
            }
            done += n
        }
    }

    // MARK: - Header words

    private func word(at offset: Int) -> UnsafeAtomic<Int64> {
        precondition(offset >= 0 && offset + 8 <= byteCount && offset % 8 == 0, "header word out of bounds")
        return UnsafeAtomic<Int64>(at: (base + offset).assumingMemoryBound(to: Int64.AtomicRepresentation.self))
    }

    /// Loads the 8-byte word at `offset` with acquire ordering (pairs with ``storeReleasing(_:at:)``).
    func loadAcquiring(at offset: Int) -> Int64 { word(at: offset).load(ordering: .acquiring) }

    /// Loads the 8-byte word at `offset` without ordering guarantees.
    func loadRelaxed(at offset: Int) -> Int64 { word(at: offset).load(ordering: .relaxed) }

    /// Stores the 8-byte word at `offset` with release ordering: everything written before is visible to a reader
    /// that loads the word with acquire ordering and sees this value.
    func storeReleasing(_ value: Int64, at offset: Int) {
        precondition(isWritable, "store into a read-only mapping of \(path)")
        word(at: offset).store(value, ordering: .releasing)
    }

    // MARK: - Bytes

    /// Copies `count` bytes starting at `offset` out of the mapping.
    /// - Complexity: O(count).
    func bytes(at offset: Int, count: Int) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + count <= byteCount, "read past the end of \(path)")
        return [UInt8](UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// Reads a little-endian `UInt32` at `offset`.
    func uint32(at offset: Int) -> UInt32 {
        precondition(offset >= 0 && offset + 4 <= byteCount, "read past the end of \(path)")
        return UInt32(littleEndian: (base + offset).loadUnaligned(as: UInt32.self))
    }

    /// Reads a little-endian `UInt64` at `offset`.
    func uint64(at offset: Int) -> UInt64 {
        precondition(offset >= 0 && offset + 8 <= byteCount, "read past the end of \(path)")
        return UInt64(littleEndian: (base + offset).loadUnaligned(as: UInt64.self))
    }

    /// The CRC-32C of `count` bytes at `offset`, computed in place.
    func crc32c(at offset: Int, count: Int) -> UInt32 {
        precondition(offset >= 0 && count >= 0 && offset + count <= byteCount, "checksum past the end of \(path)")
        return Checksum.crc32c(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// Writes `bytes` at `offset` with `pwrite` (not through the mapping, so a full disk is an error code).
    /// - Throws: `.io`/`.noSpace` with the file's path.
    func write(_ bytes: [UInt8], at offset: Int) throws(ShardLogError) {
        precondition(isWritable && offset >= 0 && offset + bytes.count <= byteCount, "write past the end of \(path)")
        try Self.write(fd: fd, bytes, at: offset, path: path)
    }

    /// Makes `count` bytes at `offset` read as zeros, keeping them allocated.
    func zero(at offset: Int, count: Int) throws(ShardLogError) {
        precondition(isWritable && offset >= 0 && offset + count <= byteCount, "zero past the end of \(path)")
        guard count > 0 else { return }
        if shardlog_zero_range(fd, Int64(offset), Int64(count)) == 0 { return }
        var remaining = count
        var at = offset
        let chunk = [UInt8](repeating: 0, count: min(count, 1 << 20))
        while remaining > 0 {
            let n = min(remaining, chunk.count)
            try Self.write(fd: fd, n == chunk.count ? chunk : Array(chunk.prefix(n)), at: at, path: path)
            at += n
            remaining -= n
        }
    }

    /// Flushes the file's data (written by `pwrite` or through the mapping) to stable storage.
    func synchronize() throws(ShardLogError) {
        try SystemCall.retrying("fdatasync \(path)") { fdatasync(fd) }
    }

    /// Tells the kernel the mapping will be read sequentially.
    func adviseSequential() {
        _ = madvise(base, byteCount, MADV_SEQUENTIAL)
    }
}
