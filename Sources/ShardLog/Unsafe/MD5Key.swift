import CShardLog

/// MD5 of partition keys for routing, in C (`Sources/CShardLog/md5.c`): one key hashed in place from its UTF-8
/// bytes, or many keys packed back to back, 8 at a time with AVX2 where the CPU has it. Neither allocates.
enum MD5Key {
    /// The key's hash key: MD5 of its UTF-8 bytes as a big-endian `UInt128`.
    /// - Complexity: O(key length).
    static func hash(_ key: String) -> UInt128 {
        var key = key
        return key.withUTF8 { utf8 in
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { out in
                shardlog_md5_hashkey(
                    utf8.baseAddress, utf8.count, out.baseAddress?.assumingMemoryBound(to: UInt64.self))
            }
            return UInt128(words.0) << 64 | UInt128(words.1)
        }
    }

    /// The hash keys of keys `range` of a packed key buffer, written to `out[range]`.
    /// - Parameters:
    ///   - bytes: the keys, back to back.
    ///   - offsets: key `i` is `bytes[offsets[i]..<offsets[i + 1]]`.
    ///   - range: which keys.
    ///   - out: receives the hash keys; at least `range.upperBound` elements.
    ///   - simd: `false` forces the scalar code (tests compare both).
    /// - Complexity: O(total key bytes).
    static func hash(
        bytes: [UInt8], offsets: [Int], range: Range<Int>, into out: inout [UInt128], simd: Bool = true
    ) {
        guard !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound < offsets.count, "key range out of bounds")
        precondition(out.count >= range.upperBound, "hash key buffer too small")
        precondition(
            offsets[range.lowerBound] >= 0 && offsets[range.upperBound] <= bytes.count, "key offsets out of bounds")
        bytes.withUnsafeBufferPointer { keys in
            offsets.withUnsafeBufferPointer { offsets in
                out.withUnsafeMutableBufferPointer { out in
                    guard let keyBase = keys.baseAddress, let offsetBase = offsets.baseAddress,
                        let outBase = out.baseAddress
                    else { return }
                    let first = offsetBase + range.lowerBound
                    // C writes (high, low) pairs of UInt64 over the UInt128 slots.
                    UnsafeMutableRawPointer(outBase + range.lowerBound).withMemoryRebound(
                        to: UInt64.self, capacity: 2 * range.count
                    ) { slots in
                        if simd {
                            shardlog_md5_hashkeys(keyBase, first, range.count, slots)
                        } else {
                            shardlog_md5_hashkeys_scalar(keyBase, first, range.count, slots)
                        }
                    }
                }
            }
        }
        #if _endian(little)
            // Read back as UInt128, a (high, low) pair is low·2^64 + high: swap the halves.
            for i in range { out[i] = out[i] << 64 | out[i] >> 64 }
        #endif
    }

    /// How many keys the batch hash runs at once on this CPU: 8 with AVX2, 1 otherwise.
    static var lanes: Int { Int(shardlog_md5_lanes()) }
}
