import Synchronization

/// The server-wide budget of request-body bytes held in memory while requests are received.
///
/// Each request reserves its declared `Content-Length` (a chunked body, whose length is unknown, its operation's cap)
/// before any byte is buffered and releases the reservation when its response is made. A request that would take the total
/// over the limit is answered at once with HTTP 503 and `LimitExceededException` rather than held: a held request
/// keeps its connection and its partial body while it waits, so holding does not bound memory under many slow or
/// unfinished bodies, while a refusal costs nothing and the AWS SDKs retry it with back-off (they treat both 503 and
/// `LimitExceededException` as retryable throttling).
///
/// Thread-safety: safe from any thread; each call takes a short lock.
final class BodyBudget: Sendable {
    /// The most bytes held at once, across all requests.
    let limit: Int
    private let used = Mutex(0)

    /// Creates a budget of `limit` bytes.
    init(limit: Int) { self.limit = limit }

    /// Reserves `byteCount` more bytes.
    /// - Returns: whether they fit; nothing is reserved when they do not.
    func reserve(_ byteCount: Int) -> Bool {
        used.withLock { used in
            guard byteCount <= limit - used else { return false }
            used += byteCount
            return true
        }
    }

    /// Returns `byteCount` reserved bytes.
    func release(_ byteCount: Int) {
        guard byteCount > 0 else { return }
        used.withLock { $0 = max(0, $0 - byteCount) }
    }

    /// The bytes reserved now.
    var usedByteCount: Int { used.withLock { $0 } }
}
