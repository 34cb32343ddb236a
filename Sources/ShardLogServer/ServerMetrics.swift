import Foundation
import Synchronization

/// Counters behind `GET /metrics`, written in the Prometheus text format.
/// Thread-safety: safe from any thread; each update takes a short lock.
final class ServerMetrics: Sendable {
    private struct ShardCounters {
        var incomingRecords = 0
        var incomingBytes = 0
        var outgoingRecords = 0
        var outgoingBytes = 0
        var writeThrottles = 0
        var readThrottles = 0
    }

    private struct State {
        var shards: [ShardKey: ShardCounters] = [:]
        var requests: [String: Int] = [:]
        var errors: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func recordIncoming(_ key: ShardKey, records: Int, bytes: Int) {
        state.withLock {
            $0.shards[key, default: ShardCounters()].incomingRecords += records
            $0.shards[key, default: ShardCounters()].incomingBytes += bytes
        }
    }

    func recordOutgoing(_ key: ShardKey, records: Int, bytes: Int) {
        state.withLock {
            $0.shards[key, default: ShardCounters()].outgoingRecords += records
            $0.shards[key, default: ShardCounters()].outgoingBytes += bytes
        }
    }

    func recordThrottle(_ key: ShardKey, write: Bool) {
        state.withLock {
            if write {
                $0.shards[key, default: ShardCounters()].writeThrottles += 1
            } else {
                $0.shards[key, default: ShardCounters()].readThrottles += 1
            }
        }
    }

    func recordRequest(operation: String, error: String?) {
        state.withLock {
            $0.requests[operation, default: 0] += 1
            if let error { $0.errors[operation + "\u{1F}" + error, default: 0] += 1 }
        }
    }

    /// Forgets the counters of a deleted stream.
    func removeStream(_ stream: String) {
        state.withLock { s in s.shards = s.shards.filter { $0.key.stream != stream } }
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The Prometheus text exposition (format 0.0.4).
    var prometheusText: String {
        let s = state.withLock { $0 }
        var out = ""
        let shardSeries: [(String, String, KeyPath<ShardCounters, Int>)] = [
            ("shardlog_incoming_records_total", "Records written (PutRecord/PutRecords).", \.incomingRecords),
            ("shardlog_incoming_bytes_total", "Bytes written (data + partition key).", \.incomingBytes),
            ("shardlog_outgoing_records_total", "Records read (GetRecords/SubscribeToShard).", \.outgoingRecords),
            ("shardlog_outgoing_bytes_total", "Bytes read (data + partition key).", \.outgoingBytes),
            ("shardlog_write_throttles_total", "Records refused by the per-shard write limits.", \.writeThrottles),
            ("shardlog_read_throttles_total", "GetRecords calls refused by the per-shard read limit.", \.readThrottles),
        ]
        let keys = s.shards.keys.sorted()
        for (name, help, path) in shardSeries {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for key in keys {
                let value = s.shards[key]?[keyPath: path] ?? 0
                out += "\(name){stream=\"\(Self.escape(key.stream))\",shard=\"\(key.shard)\"} \(value)\n"
            }
        }
        out += "# HELP shardlog_requests_total Kinesis API requests by operation.\n"
        out += "# TYPE shardlog_requests_total counter\n"
        for (op, n) in s.requests.sorted(by: { $0.key < $1.key }) {
            out += "shardlog_requests_total{operation=\"\(Self.escape(op))\"} \(n)\n"
        }
        out += "# HELP shardlog_request_errors_total Kinesis API error responses by operation and error code.\n"
        out += "# TYPE shardlog_request_errors_total counter\n"
        for (key, n) in s.errors.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            let op = parts.first ?? ""
            let code = parts.count > 1 ? parts[1] : ""
            out +=
                "shardlog_request_errors_total{operation=\"\(Self.escape(op))\",code=\"\(Self.escape(code))\"} \(n)\n"
        }
        return out
    }
}
