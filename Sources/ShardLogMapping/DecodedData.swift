import Foundation

/// A record's data as `shardlog get --decode` and the console show it: the JSON value it holds, else its UTF-8 text, else base64.
package struct DecodedData: Sendable, Equatable {
    /// `json`, `utf8` or `base64`.
    package let encoding: String
    /// The JSON text of the value printed for `data`.
    package let json: String

    /// Decodes `bytes`: a JSON document (object, array, string, number, `true`, `false`, `null`) is kept as its
    /// value, written compactly; other valid UTF-8 becomes a JSON string; anything else base64.
    package init(_ bytes: [UInt8]) {
        let data = Data(bytes)
        if let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let compact = try? JSONSerialization.data(
                withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes])
        {
            self.init(encoding: "json", json: String(decoding: compact, as: UTF8.self))
        } else if let text = String(validating: bytes, as: UTF8.self),
            let quoted = try? JSONEncoder().encode(text)
        {
            self.init(encoding: "utf8", json: String(decoding: quoted, as: UTF8.self))
        } else {
            self.init(base64: bytes)
        }
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
