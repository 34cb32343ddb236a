import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A lock that excludes both the other threads of this process and other processes: a `Mutex` and an advisory
/// `flock` on a lock file, always taken together (the mutex first), so no caller can hold one without the other.
///
/// The lock file's descriptor is opened when the lock is first taken and kept while the lock is in use; once more
/// than ``idleDescriptorLimit`` locks of this process sit idle with an open descriptor, the least recently used
/// ones are closed (and reopened on their next use), so a process touching thousands of shards holds a bounded
/// number of lock descriptors. After taking the `flock` the lock checks that the path still names the locked file
/// (a deleted and recreated stream gets a new lock file); if not, it locks the new one.
///
/// Costs measured on the development machine (tmpfs, idle): taking and releasing a lock whose descriptor is open
/// costs one `flock` pair plus an `fstat`/`stat` (about 3 µs); a lock whose descriptor was closed adds an `open`
/// and a `close` (about 10–20 µs).
///
/// Thread-safety: safe from any thread. ``lock(shared:)``/``unlock()`` and the scoped forms must be called on one
/// thread and never held across an `await` (the mutex belongs to the locking thread); use ``tryHold()`` for a lock
/// held by a task.
package final class InterProcessLock: Sendable {
    /// The lock file.
    package let path: String
    /// Taken before the `flock`, released after it.
    private let mutex = Mutex<Void>(())
    /// The lock file's descriptor, or -1 when closed. Read and written only while `mutex` is held (or in `deinit`);
    /// an `Atomic` only so that the class is `Sendable` without `@unchecked`.
    private let descriptor = Atomic<Int32>(-1)

    /// Most idle lock descriptors this process keeps open (least recently used ones beyond it are closed).
    package static let idleDescriptorLimit = 64

    /// Creates the lock; nothing is opened until it is first taken.
    /// - Parameter path: the lock file, created (mode 0644) when first locked; its directory must exist then.
    package init(path: String) {
        self.path = path
    }

    deinit {
        let fd = descriptor.load(ordering: .relaxed)
        if fd >= 0 { close(fd) }
        LockDescriptorCache.shared.remove(ObjectIdentifier(self))
    }

    /// Takes the lock, waiting for other threads and processes to release it.
    /// - Parameter shared: take a shared (reader) `flock` instead of an exclusive one; threads of this process are
    ///   still excluded from each other.
    /// - Throws: `.resourceNotFound` when the lock file's directory does not exist (the stream or shard was
    ///   deleted), `.io` when the file cannot be opened or locked (e.g. too many open files).
    package func lock(shared: Bool = false) throws(ShardLogError) {
        mutex._unsafeLock()
        do {
            try lockFile(shared ? LOCK_SH : LOCK_EX)
        } catch {
            mutex._unsafeUnlock()
            throw error
        }
    }

    /// Takes the lock only if no other thread or process holds it.
    /// - Returns: whether the lock was taken (then ``unlock()`` releases it).
    /// - Throws: `.resourceNotFound`/`.io` as ``lock(shared:)``.
    package func tryLock() throws(ShardLogError) -> Bool {
        guard mutex._unsafeTryLock() else { return false }
        do {
            if try lockFile(LOCK_EX | LOCK_NB) { return true }
        } catch {
            mutex._unsafeUnlock()
            throw error
        }
        mutex._unsafeUnlock()
        return false
    }

    /// Releases the lock taken by ``lock(shared:)`` or ``tryLock()`` on this thread.
    package func unlock() {
        let fd = descriptor.load(ordering: .relaxed)
        if fd >= 0 { _ = flock(fd, LOCK_UN) }
        mutex._unsafeUnlock()
        if fd >= 0 { LockDescriptorCache.shared.used(self) }
    }

    /// Runs `body` while holding the lock.
    /// - Parameters:
    ///   - shared: take a shared `flock` (other processes may hold it shared too).
    ///   - body: the critical section.
    /// - Returns: what `body` returns.
    /// - Throws: what ``lock(shared:)`` or `body` throws.
    package func withLock<R>(shared: Bool = false, _ body: () throws(ShardLogError) -> R) throws(ShardLogError) -> R {
        try lock(shared: shared)
        defer { unlock() }
        return try body()
    }

    /// Runs `body` while holding the lock if nobody else holds it.
    /// - Returns: what `body` returns, or `nil` (without running it) when another thread or process holds the lock.
    /// - Throws: what ``tryLock()`` or `body` throws.
    package func withTryLock<R>(_ body: () throws(ShardLogError) -> R) throws(ShardLogError) -> R? {
        guard try tryLock() else { return nil }
        defer { unlock() }
        return try body()
    }

    /// Takes the lock for as long as the returned ``Hold`` lives, if nobody else holds it: for a lock held by a
    /// task across suspension points (a running mapping). The hold has its own descriptor (its own open file
    /// description), so every other taker, in this process or another, is refused or waits until it is released.
    /// - Parameter holder: text written into the lock file while held (e.g. the process id), for ``holder(path:)``.
    /// - Returns: the hold, or `nil` when another thread or process holds the lock.
    /// - Throws: `.resourceNotFound`/`.io` as ``lock(shared:)``.
    package func tryHold(holder: String) throws(ShardLogError) -> Hold? {
        guard mutex._unsafeTryLock() else { return nil }
        defer { mutex._unsafeUnlock() }
        for _ in 0..<16 {
            let fd = try Self.openFile(path)
            do throws(ShardLogError) {
                guard try Self.flockFile(path, fd, LOCK_EX | LOCK_NB) else {
                    close(fd)
                    return nil
                }
                guard Self.names(path, fd) else {
                    close(fd)
                    continue
                }
                let bytes = Array(holder.utf8)
                try SystemCall.retrying("truncate \(path)") { ftruncate(fd, 0) }
                let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                if written != bytes.count { throw SystemCall.error("write \(path)", errno: errno) }
            } catch {
                close(fd)
                throw error
            }
            return Hold(descriptor: fd, path: path)
        }
        throw ShardLogError(.io, "cannot lock \(path): the lock file keeps being replaced")
    }

    /// The text the current ``Hold`` of the lock file at `path` wrote (e.g. a process id), or `nil` if none or
    /// unreadable. The text stays after a holder dies; only a failed ``tryHold(holder:)`` proves someone holds it.
    package static func holder(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init)
    }

    /// A lock taken by ``tryHold(holder:)``: released by ``release()`` (from any thread) or when it is deallocated.
    package final class Hold: Sendable {
        /// The lock file.
        package let path: String
        private let descriptor: Atomic<Int32>

        fileprivate init(descriptor: Int32, path: String) {
            self.descriptor = Atomic(descriptor)
            self.path = path
        }

        deinit { release() }

        /// Releases the lock: removes the lock file (while still holding it, so no other holder's file is removed;
        /// a taker waiting on the removed file notices and locks the path anew) and closes the descriptor. Later calls
        /// do nothing.
        package func release() {
            let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
            guard fd >= 0 else { return }
            if InterProcessLock.names(path, fd) { unlink(path) }
            close(fd)
        }
    }

    // MARK: - Descriptor management (mutex held)

    /// Opens the lock file if needed and `flock`s it with `operation`, re-opening when the path was replaced.
    /// - Returns: `false` only for a non-blocking operation that would block.
    @discardableResult
    private func lockFile(_ operation: Int32) throws(ShardLogError) -> Bool {
        for _ in 0..<16 {
            var fd = descriptor.load(ordering: .relaxed)
            if fd < 0 {
                fd = try Self.openFile(path)
                descriptor.store(fd, ordering: .relaxed)
            }
            guard try Self.flockFile(path, fd, operation) else { return false }
            if Self.names(path, fd) { return true }
            // Deleted or replaced while we waited: lock what the path names now.
            _ = flock(fd, LOCK_UN)
            closeDescriptor()
        }
        throw ShardLogError(.io, "cannot lock \(path): the lock file keeps being replaced")
    }

    /// Closes the descriptor (mutex held).
    private func closeDescriptor() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        if fd >= 0 { close(fd) }
    }

    /// Closes the descriptor if the lock is not in use now (called by the idle-descriptor cache).
    fileprivate func closeIfIdle() {
        guard mutex._unsafeTryLock() else { return }
        closeDescriptor()
        mutex._unsafeUnlock()
    }

    private static func openFile(_ path: String) throws(ShardLogError) -> Int32 {
        try SystemCall.retrying("open lock file \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    }

    /// `flock(fd, operation)`, retrying `EINTR`.
    /// - Returns: `false` when a non-blocking operation would block.
    private static func flockFile(_ path: String, _ fd: Int32, _ operation: Int32) throws(ShardLogError) -> Bool {
        while flock(fd, operation) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK && operation & LOCK_NB != 0 { return false }
            throw SystemCall.error("lock \(path)", errno: code)
        }
        return true
    }

    /// Whether `path` still names the file open as `fd`.
    fileprivate static func names(_ path: String, _ fd: Int32) -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, stat(path, &named) == 0 else { return false }
        return open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }
}

/// The idle lock descriptors of this process, least recently used first out: bounds the descriptors held by
/// ``InterProcessLock``s that are not in use. Thread-safety: safe from any thread.
private final class LockDescriptorCache: Sendable {
    static let shared = LockDescriptorCache(limit: InterProcessLock.idleDescriptorLimit)

    private struct Entry {
        weak var lock: InterProcessLock?
        var tick: UInt64
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var tick: UInt64 = 0
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    /// Records that `lock` was just released with its descriptor open; closes the least recently used idle
    /// descriptors beyond the limit.
    func used(_ lock: InterProcessLock) {
        let victims = state.withLock { s -> [InterProcessLock] in
            s.tick += 1
            s.entries[ObjectIdentifier(lock)] = Entry(lock: lock, tick: s.tick)
            guard s.entries.count > limit else { return [] }
            var victims: [InterProcessLock] = []
            while s.entries.count > limit, let oldest = s.entries.min(by: { $0.value.tick < $1.value.tick }) {
                s.entries[oldest.key] = nil
                if let victim = oldest.value.lock { victims.append(victim) }
            }
            return victims
        }
        // A victim in use now is skipped: it registers again when released.
        for victim in victims { victim.closeIfIdle() }
    }

    /// Forgets a deallocated lock.
    func remove(_ id: ObjectIdentifier) {
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    /// How many lock descriptors are registered as open (for tests).
    var count: Int { state.withLock { $0.entries.count } }
}

extension InterProcessLock {
    /// How many idle lock descriptors this process keeps open now (at most ``idleDescriptorLimit``).
    package static var idleDescriptorCount: Int { LockDescriptorCache.shared.count }
}
