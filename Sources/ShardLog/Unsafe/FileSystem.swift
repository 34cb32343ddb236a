#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Durable small-file and directory operations (metadata, checkpoints).
package enum FileSystem {
    /// Replaces the file at `path` with `bytes` atomically: write a temporary file, fsync it, rename it over the
    /// target, fsync the directory. Readers see the old or the new content, never a mix.
    /// - Throws: `.io`/`.noSpace` naming the file.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ShardLogError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = try SystemCall.retrying("create \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        do throws(ShardLogError) {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemCall.error("write \(tmp)", errno: errno)
                }
                done += n
            }
            try SystemCall.retrying("fsync \(tmp)") { fsync(fd) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        try SystemCall.retrying("rename \(tmp) to \(path)") { rename(tmp, path) }
        try synchronizeDirectory(of: path)
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
