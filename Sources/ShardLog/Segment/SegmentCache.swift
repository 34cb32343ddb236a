import Synchronization

/// The process-wide budget of mapped segment files: each open ``Segment`` holds one descriptor and one mapping, and
/// both are limited per process (`RLIMIT_NOFILE`, `vm.max_map_count`).
///
/// Every segment a ``Shard`` opens is registered here; when more than the limit are open, the least recently used
/// ones are dropped from their shards' tables, so their file is unmapped and closed as soon as no reader is inside
/// one (a reader holds a strong reference for the duration of a read, and the last release closes the file). A shard
/// re-opens a dropped segment on its next use. The segment an append is running on is never dropped; an idle shard's
/// active segment may be, and the next append re-opens it.
///
/// The limit is ``StoreOptions/maxMappedSegments`` when set, else an eighth of the descriptor limit and a quarter of
/// `vm.max_map_count` (``ResourceLimits/defaultMappedSegments``).
/// Thread-safety: safe from any thread. Lock order: a shard's locks may be held while calling in here only for
/// ``closed(_:)`` (from a segment's `deinit`); eviction calls into shards only after releasing its own lock.
final class SegmentCache: Sendable {
    /// The cache of this process.
    static let shared = SegmentCache()

    /// The default limit, derived from the process's limits when first used.
    let defaultLimit = ResourceLimits.defaultMappedSegments

    private let clock = Atomic<UInt64>(0)
    private let identifiers = Atomic<UInt64>(0)
    private let state = Mutex(State())

    /// When a segment was last used: shared by the segment and its registration, so that the cache can read it
    /// without touching (and possibly being the last owner of) the segment itself.
    final class UseStamp: Sendable {
        let tick = Atomic<UInt64>(0)
    }

    private struct Registration {
        weak var owner: Shard?
        let offset: UInt64
        let stamp: UseStamp
        var evicting = false
    }

    private struct State {
        var open: [UInt64: Registration] = [:]
        var peak = 0
    }

    /// A new process-unique segment identifier.
    func nextIdentifier() -> UInt64 { identifiers.add(1, ordering: .relaxed).newValue }

    /// The next use tick.
    func tick() -> UInt64 { clock.add(1, ordering: .relaxed).newValue }

    /// How many segments are mapped in this process now, and the most at any time.
    var counts: (open: Int, peak: Int) { state.withLock { ($0.open.count, $0.peak) } }

    /// Registers a newly opened segment of `owner` and evicts least recently used ones beyond `limit`.
    /// - Complexity: O(1), plus O(n log n) once per `limit / 8` admissions beyond the limit.
    func admit(_ segment: Segment, owner: Shard, limit: Int?) {
        let limit = max(2, limit ?? defaultLimit)
        let victims = state.withLock { s -> [(UInt64, Registration)] in
            s.open[segment.id] = Registration(owner: owner, offset: segment.firstOffset, stamp: segment.lastUse)
            s.peak = max(s.peak, s.open.count)
            guard s.open.count > limit else { return [] }
            // Evict down to 7/8 of the limit at once, so the sort is paid once per limit/8 opens.
            return Self.pick(&s, count: s.open.count - (limit - limit / 8), sparing: segment.id)
        }
        evict(victims)
    }

    /// Evicts every segment not in use (after a descriptor or mapping limit was hit anyway).
    func evictAll() {
        let victims = state.withLock { s in Self.pick(&s, count: s.open.count, sparing: nil) }
        evict(victims)
    }

    /// Forgets a segment whose file was unmapped and closed.
    func closed(_ id: UInt64) {
        state.withLock { _ = $0.open.removeValue(forKey: id) }
    }

    /// Marks a segment that could not be evicted (an append was running on it) as a candidate again.
    private func spared(_ id: UInt64) {
        state.withLock { s in s.open[id]?.evicting = false }
    }

    private static func pick(_ s: inout State, count: Int, sparing: UInt64?) -> [(UInt64, Registration)] {
        let candidates = s.open.filter { $0.key != sparing && !$0.value.evicting }
            .map { (id: $0.key, tick: $0.value.stamp.tick.load(ordering: .relaxed)) }
            .sorted { $0.tick < $1.tick }
            .prefix(count)
        var victims: [(UInt64, Registration)] = []
        for c in candidates {
            s.open[c.id]?.evicting = true
            if let r = s.open[c.id] { victims.append((c.id, r)) }
        }
        return victims
    }

    private func evict(_ victims: [(UInt64, Registration)]) {
        for (id, registration) in victims {
            guard let owner = registration.owner else { continue }
            if !owner.evict(registration.offset, id: id) { spared(id) }
        }
    }
}
