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
    /// - Throws: `.noSpace` for `ENOSPC`, `.resourceNotFound` for `ENOENT`, `.io` otherwise.
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
        default:
            return ShardLogError(.io, "cannot \(what): \(reason) (errno \(code))", errno: code)
        }
    }
}
