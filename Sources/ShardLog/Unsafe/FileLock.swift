#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An advisory lock file (`flock`) that serializes writers across processes.
///
/// Owns its file descriptor; closing it (in `deinit`) drops any lock held.
/// Thread-safety: `flock` locks belong to the open file description, so one `FileLock` must not be used by two
/// threads at once; the owner serializes access (a `Mutex`).
struct FileLock: ~Copyable, @unchecked Sendable {
    // @unchecked: holds only an immutable file descriptor; callers serialize lock/unlock through their Mutex.
    private let fd: Int32
    private let path: String

    /// Opens (creating if needed) the lock file at `path`.
    /// - Throws: `.io` when the file cannot be opened.
    init(path: String) throws(ShardLogError) {
        self.path = path
        self.fd = try SystemCall.retrying("open lock file \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    }

    deinit { close(fd) }

    /// Takes the lock, waiting for other processes to release it.
    /// - Parameter shared: take a shared (reader) lock instead of an exclusive one.
    func lock(shared: Bool = false) throws(ShardLogError) {
        try SystemCall.retrying("lock \(path)") { flock(fd, shared ? LOCK_SH : LOCK_EX) }
    }

    /// Releases the lock.
    func unlock() {
        _ = flock(fd, LOCK_UN)
    }

    /// Runs `body` while holding the lock.
    func withLock<R, E: Error>(shared: Bool = false, _ body: () throws(E) -> R) throws(E) -> R {
        do {
            try lock(shared: shared)
        } catch {
            // Locking a local file only fails on EBADF/ENOLCK; treat as fatal misuse rather than losing data.
            preconditionFailure("flock failed on \(path): \(error)")
        }
        defer { unlock() }
        return try body()
    }
}
