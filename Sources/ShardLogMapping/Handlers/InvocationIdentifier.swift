import Synchronization

/// Request ids and X-Ray trace headers for invocations, made without a system call or Foundation.
///
/// `UUID()` reads `/dev/urandom` (an `open`, a `read` and a `close` per id) and its `uuidString` goes through
/// Foundation's string bridging; a Runtime API invocation used three of them, which showed as a tenth of the
/// mapping's CPU per invocation in `bench runtime-api`. Here each id is a process-wide counter mixed with random
/// seeds taken once: SplitMix64's finalizer is a bijection of 64-bit words, so ids of one process never repeat, and
/// the seeds keep processes apart. The ids are unique, not secret. Thread-safe: an atomic counter.
enum InvocationIdentifier {
    private static let seeds: [UInt64] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in generator.next() }
    }()
    private static let counter = Atomic<UInt64>(0)
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A fresh lowercase version-4 UUID (`8-4-4-4-12` hex digits), as Lambda's request ids look.
    static func requestId() -> String {
        let (high, low) = next()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        // Version 4 in the third group's first digit, variant 10xx in the fourth group's first digit.
        let versioned = (high & ~0xF000) | 0x4000
        let variant = (low & ~(0xC << 60)) | (0x8 << 60)
        appendHex(versioned >> 32, digits: 8, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(versioned >> 16, digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(versioned, digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(variant >> 48, digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(variant, digits: 12, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An X-Ray trace header: `Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
    /// - Parameter epochSeconds: The time of the trace's start, in seconds since 1970.
    static func traceId(epochSeconds: Int64) -> String {
        let (high, low) = next()
        let parent = mix(low ^ seeds[3])
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        bytes.append(contentsOf: "Root=1-".utf8)
        appendHex(UInt64(truncatingIfNeeded: max(0, epochSeconds)), digits: 8, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendHex(high, digits: 16, to: &bytes)
        appendHex(low, digits: 8, to: &bytes)
        bytes.append(contentsOf: ";Parent=".utf8)
        appendHex(parent, digits: 16, to: &bytes)
        bytes.append(contentsOf: ";Sampled=0".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// 128 bits that no other call of this process returns: both halves are bijections of the counter.
    private static func next() -> (UInt64, UInt64) {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return (mix(seeds[0] &+ count), mix((seeds[1] &+ (count &* 0x9E37_79B9_7F4A_7C15)) ^ seeds[2]))
    }

    /// SplitMix64's finalizer: a bijection that spreads every input bit over the output.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Appends the low `digits` hex digits of `value`, most significant first.
    private static func appendHex(_ value: UInt64, digits: Int, to bytes: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            bytes.append(hexDigits[Int((value >> UInt64(shift)) & 0xF)])
            shift -= 4
        }
    }
}
