import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ShardLog
import ShardLogWire

/// A request body received whole, with the SHA-256 of exactly those bytes.
struct ReceivedBody {
    /// The body.
    var bytes: [UInt8]
    /// Lowercase hex SHA-256 of ``bytes``; empty when the server checks no signatures (no `--credentials`), which is
    /// the only use of it.
    var sha256: String
}

extension Operation {
    /// JSON for `recordByteCount` bytes of data: base64 (4 bytes per 3) plus room for the other members.
    private static func jsonByteCount(dataByteCount: Int, overhead: Int) -> Int {
        (dataByteCount + 2) / 3 * 4 + overhead
    }

    /// The largest request body accepted for this operation: a PutRecord of one maximal record (10 MiB, the most
    /// `UpdateMaxRecordSize` allows: its data in base64, a partition key of 256 characters escaped as `\uXXXX`
    /// pairs, hash key, stream name; about 13.4 MiB of JSON), a PutRecords of 500 records totalling the larger of
    /// the PutRecords limit and one maximal record (about 15.4 MiB), and 1 MiB for every other operation (their
    /// largest legitimate body, CreateStream with 50 tags, is about 250 KiB even with every character escaped).
    /// Whether a record fits its stream's own limit is checked after the body is read.
    var maxBodyByteCount: Int { Self.maxBodyByteCount(self) }

    /// ``maxBodyByteCount`` of an operation, or of an unknown one (`nil`).
    static func maxBodyByteCount(_ operation: Operation?) -> Int {
        switch operation {
        case .putRecord?:
            return jsonByteCount(dataByteCount: maxRecordByteCount, overhead: 64 << 10)
        case .putRecords?:
            return jsonByteCount(
                dataByteCount: max(putRecordsByteCount, maxRecordByteCount), overhead: 500 * (4 << 10) + (64 << 10))
        default:
            return 1 << 20
        }
    }

    /// Data and partition keys of one PutRecords request: 5 MiB, as AWS.
    static let putRecordsByteCount = 5 << 20
    /// The largest record any stream takes: 10 MiB (`MaxRecordSizeInKiB` 10240).
    static let maxRecordByteCount = Limits.maxRecordSizeInKiB.upperBound << 10
}

extension KinesisServer {
    /// Reads the body of `request` for `operation`, hashing it as it streams in when signatures are checked.
    ///
    /// The declared `Content-Length` is checked against the operation's cap and reserved in the server-wide
    /// ``BodyBudget`` before any byte is buffered; a chunked body is charged the whole cap, and a chunked body that
    /// would exceed it is refused when it does. The body must arrive within
    /// ``KinesisServerOptions/requestBodyTimeout`` of its headers; a body that stops arriving altogether is closed by
    /// the idle timeout, which ends the read here as an unreadable body.
    /// - Parameters:
    ///   - request: the request.
    ///   - operation: the operation named by `X-Amz-Target` (`nil` if unknown: the smallest cap applies).
    ///   - reserved: bytes reserved in ``budget`` for this request so far; the caller releases them after responding.
    ///   - complete: set when the body was read to its end (the connection can serve another request).
    /// - Throws: 413 `ValidationException` over the cap, 503 `LimitExceededException` over the server-wide budget,
    ///   408 `RequestTimeoutException` after the body timeout, 400 `SerializationException` for a body the HTTP
    ///   framing cannot deliver (malformed chunked encoding, a connection closed before `Content-Length` bytes).
    func receiveBody(_ request: Request, operation: Operation?, reserved: inout Int, complete: inout Bool)
        async throws(KinesisError) -> ReceivedBody
    {
        let limit = Operation.maxBodyByteCount(operation)
        let name = operation?.rawValue ?? "this request"
        func tooLarge(_ n: Int, exact: Bool) -> KinesisError {
            KinesisError(
                .validation,
                "request body of \(n)\(exact ? "" : "+") bytes exceeds the limit of \(limit) bytes for \(name)",
                status: 413)
        }
        func busy(_ n: Int) -> KinesisError {
            KinesisError(
                .limitExceeded,
                "Rate exceeded: the server is already buffering \(budget.usedByteCount) bytes of request bodies and"
                    + " \(n) more would exceed its limit of \(budget.limit) bytes (serve --max-buffered-mib); retry"
                    + " later",
                status: 503)
        }
        // A declared length is reserved whole; a chunked body, whose size is unknown until its end, is charged the
        // operation's cap (so what is reserved always covers the buffer's capacity).
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit { throw tooLarge(declared, exact: true) }
        let charge = declared ?? limit
        guard budget.reserve(charge) else { throw busy(charge) }
        reserved = charge
        let deadline = ContinuousClock.now.advanced(by: options.requestBodyTimeout)
        // One buffer per body, allocated once at the size reserved (pages are only touched as bytes arrive): one
        // allocation to free, rather than read-sized pieces or grown copies interleaved with other allocations, which
        // the allocator keeps after a burst (measured: 140 MiB kept with growth, 60 MiB without).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(reserved)
        var count = 0
        var hasher = SHA256()
        let hashing = options.credentials != nil
        var iterator = request.body.makeAsyncIterator()
        while true {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch {
                throw KinesisError(
                    .serialization,
                    "the request body could not be read after \(count) bytes (\(error)): malformed HTTP framing"
                        + " (chunk sizes, CRLFs) or a connection closed before the declared Content-Length")
            }
            guard let chunk = next else { break }
            let n = chunk.readableBytes
            guard n <= reserved - count else {
                // A chunked body longer than the cap (the decoder never delivers more than a declared length).
                throw tooLarge(count + n, exact: false)
            }
            let start = bytes.count
            bytes.append(contentsOf: chunk.readableBytesView)
            if hashing { hasher.update(data: bytes[start...]) }
            count += n
            guard ContinuousClock.now < deadline else {
                throw KinesisError(
                    .requestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period:"
                        + " \(count) bytes of the body arrived in \(options.requestBodyTimeout)", status: 408)
            }
        }
        complete = true
        return ReceivedBody(bytes: bytes, sha256: hashing ? SignatureV4.hex(hasher.finalize()) : "")
    }

    /// `response` with `Connection: close`, closing the connection once it is written: for answers given before the
    /// body was read to its end, so the rest of it is never read into memory. Output is shut down first and the
    /// socket closed a moment later (a lingering close), so a client still sending its body reads the answer instead
    /// of a reset.
    static func closingConnection(_ response: Response, channel: any Channel) -> Response {
        var response = response
        response.headers[.connection] = "close"
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            try await body.write(writer)
            channel.eventLoop.execute {
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            }
        }
        return response
    }
}
