import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Durable small-file and directory operations (metadata, checkpoints).
package enum FileSystem {
    /// Replaces the file at `path` with `bytes` atomically: write a temporary file with a name unique to this call
    /// (`<file>.tmp.<pid>.<n>`, created exclusively), fsync it, rename it over the target, fsync the directory.
    /// Readers see the old or the new content, never a mix; concurrent writers (threads or processes) never share
    /// a temporary file, so the last rename wins whole. Callers that read, modify and write hold a lock around it.
    /// - Throws: `.io`/`.noSpace` naming the file; the temporary file is removed on failure.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ShardLogError) {
        let (tmp, fd) = try createTemporary(next: path)
        do throws(ShardLogError) {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { buffer in
                    buffer.baseAddress.map { write(fd, $0 + done, buffer.count - done) } ?? 0
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemCall.error("write \(tmp)", errno: errno)
                }
                done += n
            }
            try SystemCall.retrying("fsync \(tmp)") { fsync(fd) }
            close(fd)
            try SystemCall.retrying("rename \(tmp) to \(path)") { rename(tmp, path) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        try synchronizeDirectory(of: path)
    }

    /// Numbers temporary files within this process.
    private static let temporaryCounter = Atomic<Int>(0)

    /// Creates (`O_EXCL`) a temporary file next to `path` with a name no other call uses.
    private static func createTemporary(next path: String) throws(ShardLogError) -> (String, Int32) {
        while true {
            let n = temporaryCounter.add(1, ordering: .relaxed).newValue
            let tmp = path + ".tmp.\(getpid()).\(n)"
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { return (tmp, fd) }
            let code = errno
            // EEXIST: left by a dead process that had our pid; take the next number.
            if code != EINTR && code != EEXIST { throw SystemCall.error("create \(tmp)", errno: code) }
        }
    }

    /// Fsyncs the directory containing `path`, making a create, rename or unlink in it durable.
    package static func synchronizeDirectory(of path: String) throws(ShardLogError) {
        var dir = path
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        if let slash = dir.lastIndex(of: "/") {
            dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
        } else {
            dir = "."
        }
        let fd = try SystemCall.retrying("open directory \(dir)") { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try SystemCall.retrying("fsync directory \(dir)") { fsync(fd) }
    }

    /// A file's device and inode: which file a path named when it was looked at.
    package struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    /// The identity of the file or directory at `path`, or `nil` if there is none (one `stat`).
    package static func identity(of path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// This boot's identity (`/proc/sys/kernel/random/boot_id`) folded to 63 bits; a change means the machine
    /// restarted and the page cache may have lost unsynced writes.
    package static let bootIdentity: Int64 = {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 1 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 1 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in buf.prefix(n) where byte != 10 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return Int64(bitPattern: hash & 0x7fff_ffff_ffff_ffff) | 1
    }()
}
