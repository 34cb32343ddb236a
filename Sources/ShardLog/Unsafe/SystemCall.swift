#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one place where ShardLog calls the operating system: retries `EINTR` and turns `-1` + `errno` into
/// a ``ShardLogError`` whose message names the call, the file and the remedy.
enum SystemCall {
    /// Runs `body` until it does not fail with `EINTR`.
    /// - Parameters:
    ///   - what: the call and its object, for the message (`"open /data/x.seg"`).
    ///   - body: the raw call, returning `-1` on failure.
    /// - Returns: the call's non-negative result.
    /// - Throws: `.noSpace` for `ENOSPC`, `.resourceNotFound` for `ENOENT`, `.limitExceeded` for `EMFILE`, `ENFILE`
    ///   and `ENOMEM` (naming the limit and how to raise it), `.io` otherwise.
    @discardableResult
    static func retrying<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws(ShardLogError)
        -> T
    {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw error(what(), errno: code)
        }
    }

    /// Converts an `errno` value into a ``ShardLogError`` naming the failed call.
    static func error(_ what: String, errno code: Int32) -> ShardLogError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return ShardLogError(.noSpace, "cannot \(what): \(reason) (errno \(code)); free disk space", errno: code)
        case ENOENT:
            return ShardLogError(.resourceNotFound, "cannot \(what): \(reason) (errno \(code))", errno: code)
        case EMFILE:
            return ShardLogError(
                .limitExceeded,
                "cannot \(what): \(reason) (errno \(code)); the process reached its open-file limit"
                    + " (RLIMIT_NOFILE \(ResourceLimits.openFiles.map(String.init) ?? "unknown")): raise it with"
                    + " `ulimit -n` (or LimitNOFILE= in a systemd unit), or lower StoreOptions.maxMappedSegments",
                errno: code)
        case ENFILE:
            return ShardLogError(
                .limitExceeded,
                "cannot \(what): \(reason) (errno \(code)); the system-wide open-file limit is reached:"
                    + " raise fs.file-max (`sysctl -w fs.file-max=…`) or close other programs",
                errno: code)
        case ENOMEM:
            return ShardLogError(
                .limitExceeded,
                "cannot \(what): \(reason) (errno \(code)); out of memory mappings (vm.max_map_count"
                    + " \(ResourceLimits.mapCount.map(String.init) ?? "unknown")) or address space: raise it with"
                    + " `sysctl -w vm.max_map_count=262144` (or `ulimit -v`), or lower StoreOptions.maxMappedSegments",
                errno: code)
        default:
            return ShardLogError(.io, "cannot \(what): \(reason) (errno \(code))", errno: code)
        }
    }

    /// The whole content of the (small) file at `path`, or `nil` if it does not exist.
    /// - Throws: `.limitExceeded` when no descriptor is left (never reported as a missing file), `.io` otherwise,
    ///   naming the file.
    static func readFile(_ path: String) throws(ShardLogError) -> [UInt8]? {
        let fd: Int32
        do {
            fd = try retrying("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        } catch  where error.code == .resourceNotFound {
            return nil
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try retrying("read \(path)") {
                chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// Whether `path` exists: one `access(2)`, without Foundation's path handling (a reader of an empty shard asks on
    /// every look at the tip).
    static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in directory `path` (without `.` and `..`), or `nil` if it does not exist.
    /// - Throws: `.limitExceeded` when no descriptor is left, `.io` for other failures, naming the directory.
    static func directoryEntries(_ path: String) throws(ShardLogError) -> [String]? {
        guard let dir = opendir(path) else {
            let code = errno
            if code == ENOENT { return nil }
            throw error("list directory \(path)", errno: code)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                let code = errno
                if code != 0 { throw error("list directory \(path)", errno: code) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}

/// Operating-system limits on descriptors and mappings, read once per process.
package enum ResourceLimits {
    /// The soft `RLIMIT_NOFILE` (open descriptors per process), `nil` if unknown or unlimited.
    package static var openFiles: Int? {
        var limit = rlimit()
        #if os(Linux)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return Int(clamping: limit.rlim_cur)
    }

    /// `/proc/sys/vm/max_map_count` (mappings per process), `nil` if unreadable.
    package static var mapCount: Int? {
        let fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buf.prefix(n), as: UTF8.self).filter { $0.isNumber })
    }

    /// How many segments one process keeps mapped by default: an eighth of the descriptor limit (a shard being
    /// appended to also holds its `writer.lock`, so segments and their locks take at most a quarter; the rest is
    /// left for stream locks, sockets and pipes) and a quarter of `vm.max_map_count`, at least 8.
    package static var defaultMappedSegments: Int {
        let byFiles = (openFiles ?? 8192) / 8
        let byMaps = (mapCount ?? 65530) / 4
        return max(8, min(byFiles, byMaps, 1 << 16))
    }
}
