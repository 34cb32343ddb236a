// libFuzzer entry point for every ShardLog fuzz target; `SHARDLOG_FUZZ_TARGET` picks one (see scripts/fuzz.sh).
// One executable rather than one per target: a single instrumented link of NIO, Hummingbird and swift-crypto.
import Foundation
import CFuzzDriver
import ShardLogFuzzing

let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["SHARDLOG_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget.named(name) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("set SHARDLOG_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    _ = selectedTarget
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget.runBlocking(bytes)
    return 0
}
