import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Clear messages for failures to start listening (`shardlog serve`), instead of the networking library's
/// `bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`.
enum StartupFailure {
    /// A sentence for a failure to listen on `host:port`, or `nil` if `error` is not one.
    static func message(for error: any Error, host: String, port: Int) -> String? {
        message(
            describing: String(describing: error), type: String(reflecting: type(of: error)), host: host, port: port)
    }

    /// The same from an error's description (`bind(…): Address already in use (errno: 98)`) and type name.
    static func message(describing description: String, type: String = "", host: String, port: Int) -> String? {
        let place = "cannot listen on \(host):\(port)"
        if type.hasSuffix("SocketAddressError") {
            return "\(place): cannot resolve the host '\(host)'; use --host with an address such as 127.0.0.1"
        }
        guard description.contains("bind("), let code = errnoCode(in: description) else { return nil }
        switch code {
        case EADDRINUSE:
            return "\(place): address already in use; is another shardlog serve running? choose another --port"
        case EACCES:
            return "\(place): permission denied (ports below 1024 need privileges); choose another --port"
        case EADDRNOTAVAIL:
            return "\(place): \(host) is not an address of this machine; use --host 127.0.0.1 (or 0.0.0.0 for all)"
        default:
            return "\(place): \(String(cString: strerror(code))) (errno \(code))"
        }
    }

    /// The number in `(errno: N)`.
    private static func errnoCode(in description: String) -> Int32? {
        guard let range = description.range(of: "(errno: ") else { return nil }
        return Int32(description[range.upperBound...].prefix { $0.isNumber })
    }
}
