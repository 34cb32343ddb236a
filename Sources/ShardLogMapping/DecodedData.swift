import Foundation
import ShardLogWire

/// A record's data as `shardlog get --decode` and the console show it: the JSON value it holds, else its UTF-8 text, else base64.
package struct DecodedData: Sendable, Equatable {
    /// `json`, `utf8` or `base64`.
    package let encoding: String
    /// The JSON text of the value printed for `data`.
    package let json: String

    /// Decodes `bytes`: a JSON document (object, array, string, number, `true`, `false`, `null`) is kept as it was
    /// written (key order, number forms, escapes) without its insignificant whitespace; other valid UTF-8 becomes a
    /// JSON string; anything else base64.
    package init(_ bytes: [UInt8]) {
        if (try? JSON(parsing: bytes, outOfRange: .infinite)) != nil {
            self.init(encoding: "json", json: String(decoding: Self.compact(bytes), as: UTF8.self))
        } else if let text = String(validating: bytes, as: UTF8.self) {
            var quoted: [UInt8] = []
            JSON.writeString(text, to: &quoted)
            self.init(encoding: "utf8", json: String(decoding: quoted, as: UTF8.self))
        } else {
            self.init(base64: bytes)
        }
    }

    /// Valid JSON text without the whitespace between its tokens (strings are copied as they are).
    static func compact(_ json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(json.count)
        var inString = false
        var escaped = false
        for byte in json {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                out.append(byte)
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                continue
            } else {
                if byte == UInt8(ascii: "\"") { inString = true }
                out.append(byte)
            }
        }
        return out
    }

    private init(encoding: String, json: String) {
        self.encoding = encoding
        self.json = json
    }

    /// The data in base64, as `get` prints it without `--decode`.
    package init(base64 bytes: [UInt8]) {
        self.init(encoding: "base64", json: "\"" + Data(bytes).base64EncodedString() + "\"")
    }
}
