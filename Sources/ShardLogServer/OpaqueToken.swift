import Crypto
import Foundation

/// Opaque continuation tokens (shard iterators, `ListShards`/`ListStreams` `NextToken`s).
///
/// A token is base64 of `kind`, the issue time in milliseconds, the account and region it was issued in and the
/// fields, separated by U+001F, followed by the first 12 bytes of a SHA-256 over them, so a truncated or made-up
/// token is detected and refused, and one issued in another account or region is refused like a made-up one (as AWS,
/// whose tokens name a stream of one account and region).
enum OpaqueToken {
    private static let separator: Character = "\u{1F}"

    /// Encodes `fields` as a token of `kind` issued at `issuedMilliseconds` to a request in `scope`.
    static func encode(kind: String, scope: RequestScope, fields: [String], issuedMilliseconds: Int64) -> String {
        let text = ([kind, String(issuedMilliseconds), scope.account, scope.region] + fields)
            .joined(separator: String(separator))
        var bytes = Array(text.utf8)
        bytes.append(contentsOf: SHA256.hash(data: bytes).prefix(12))
        return Data(bytes).base64EncodedString()
    }

    /// Decodes a token of `kind` with `fieldCount` fields, given to a request in `scope`.
    /// - Returns: the fields and the issue time in milliseconds, or `nil` when the token is not a valid one of `kind`
    ///   issued in `scope`'s account and region.
    static func decode(
        kind: String, scope: RequestScope, fieldCount: Int, _ token: String
    ) -> (fields: [String], issued: Int64)? {
        guard token.utf8.count <= 2048, let data = Data(base64Encoded: token), data.count > 12 else { return nil }
        let bytes = [UInt8](data)
        let body = Array(bytes.dropLast(12))
        guard Array(SHA256.hash(data: body).prefix(12)) == Array(bytes.suffix(12)) else { return nil }
        let parts = String(decoding: body, as: UTF8.self).split(separator: separator, omittingEmptySubsequences: false)
        // The check bytes are no secret (anyone can compute them), so every field is treated as client input: an
        // issue time must be one this server could have written, or `now - issued` could overflow.
        guard parts.count == fieldCount + 4, parts[0] == kind, let issued = Int64(parts[1]),
            (0...nowMilliseconds() + 86_400_000).contains(issued), parts[2] == scope.account, parts[3] == scope.region
        else { return nil }
        return (parts.dropFirst(4).map(String.init), issued)
    }
}

/// Milliseconds since the epoch, now.
func nowMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
}
