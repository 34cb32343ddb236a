import Foundation
import ShardLogTestSupport
import Synchronization
import Testing

@testable import ShardLog

@Suite struct InterProcessLockTests {
    @Test func excludesThreadsThroughOneLockAndThroughSeveral() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/counter"
            try Data("0".utf8).write(to: URL(fileURLWithPath: path))
            let shared = InterProcessLock(path: dir + "/x.lock")
            let threads = 8
            let rounds = 200
            runOnThreads(threads) { t in
                // Half the threads share one lock object, the others each have their own.
                let lock = t % 2 == 0 ? shared : InterProcessLock(path: dir + "/x.lock")
                for _ in 0..<rounds {
                    try? lock.withLock { () throws(ShardLogError) in
                        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "x"
                        let value = Int(text) ?? -1_000_000
                        usleep(5)
                        try? Data("\(value + 1)".utf8).write(to: URL(fileURLWithPath: path))
                    }
                }
            }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(threads * rounds)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func anotherProcessHoldingTheLockRefusesTryLockAndItsDeathFreesIt() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/m.lock"
            let holder = try FlockHolder(path: path)
            let lock = InterProcessLock(path: path)
            #expect(try lock.tryLock() == false)
            #expect(try lock.withTryLock { () throws(ShardLogError) in 1 } == nil)
            #expect(try lock.tryHold(holder: "me") == nil)
            #expect(InterProcessLock.holder(path: path) == "\(holder.pid)")
            holder.kill()
            #expect(try lock.withTryLock { () throws(ShardLogError) in 1 } == 1)
            let hold = try #require(try lock.tryHold(holder: "\(getpid())\n"))
            #expect(InterProcessLock.holder(path: path) == "\(getpid())")
            hold.release()
        }
    }

    @Test func aHoldRefusesEveryOtherTakerInThisProcessUntilReleased() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/h.lock"
            let first = InterProcessLock(path: path)
            let hold = try #require(try first.tryHold(holder: "one"))
            #expect(try first.tryHold(holder: "two") == nil)
            #expect(try first.tryLock() == false)
            #expect(try InterProcessLock(path: path).tryLock() == false)
            // Released from another thread than the one that took it.
            await Task.detached { hold.release() }.value
            #expect(try InterProcessLock(path: path).withTryLock { () throws(ShardLogError) in true } == true)
            #expect(try first.tryLock() == true)
            first.unlock()
        }
    }

    @Test func aDeletedAndRecreatedLockFileIsLockedAnew() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/r.lock"
            let old = InterProcessLock(path: path)
            try old.withLock { () throws(ShardLogError) in }
            try FileManager.default.removeItem(atPath: path)
            let fresh = InterProcessLock(path: path)
            try fresh.lock()
            // `old` still has a descriptor of the deleted file; it must not think it holds the lock.
            #expect(try old.tryLock() == false)
            fresh.unlock()
            #expect(try old.tryLock() == true)
            old.unlock()
        }
    }

    @Test func aMissingDirectoryIsAnErrorNotATrap() throws {
        let lock = InterProcessLock(path: "/nonexistent-\(UUID().uuidString)/x.lock")
        let error = try #require(throws: ShardLogError.self) { try lock.lock() }
        #expect(error.code == .resourceNotFound)
        #expect(error.message.contains("x.lock"))
        // The mutex was released with the failure.
        #expect(throws: ShardLogError.self) { try lock.tryLock() }
    }

    @Test func idleLockDescriptorsStayBounded() async throws {
        try await withTemporaryDirectory { dir in
            let locks = (0..<(InterProcessLock.idleDescriptorLimit * 4)).map {
                InterProcessLock(path: "\(dir)/\($0).lock")
            }
            for lock in locks { try lock.withLock { () throws(ShardLogError) in } }
            let open = Self.openDescriptors(under: dir)
            #expect(open <= InterProcessLock.idleDescriptorLimit, "\(open) lock descriptors open")
            #expect(open > 0, "recently used locks keep their descriptor")
            // Used again, they still work (reopened).
            for lock in locks { try lock.withLock { () throws(ShardLogError) in } }
            #expect(Self.openDescriptors(under: dir) <= InterProcessLock.idleDescriptorLimit)
        }
    }

    @Test func atomicWritesFromManyThreadsNeverCollide() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/file.json"
            let failures = Locked<[String]>([])
            runOnThreads(8) { t in
                for i in 0..<40 {
                    let text = String(repeating: "\(t)", count: 1000 + i)
                    do throws(ShardLogError) {
                        try FileSystem.writeAtomically(Array(text.utf8), to: path)
                    } catch {
                        failures.value.withLock { $0.append(error.message) }
                    }
                }
            }
            #expect(failures.value.withLock { $0 } == [])
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(Set(text).count == 1, "one writer's whole content")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["file.json"])
        }
    }

    @Test func portableChecksumTableIsBuiltOnceForConcurrentFirstUsers() {
        let check = Array("123456789".utf8)
        let wrong = Locked(0)
        var random = SeededGenerator(seed: 42)
        let data = (0..<4099).map { _ in UInt8.random(in: 0...255, using: &random) }
        let hardware = Checksum.crc32c(data, 0..<data.count)
        runOnThreads(8) { _ in
            for _ in 0..<50 {
                if Checksum.crc32cPortable(check) != 0xE306_9283 || Checksum.crc32cPortable(data) != hardware {
                    wrong.value.withLock { $0 += 1 }
                }
            }
        }
        #expect(wrong.value.withLock { $0 } == 0)
    }

    /// How many of this process' descriptors are open on files under `dir`.
    static func openDescriptors(under dir: String) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd))?.hasPrefix(dir) == true
        }.count
    }
}

/// Another process (python3) holding an exclusive `flock` on a file, with its pid written in it, until killed.
final class FlockHolder {
    let process: Process
    var pid: Int32 { process.processIdentifier }

    init(path: String) throws {
        let script = """
            import fcntl, os, sys, time
            f = open(sys.argv[1], "a+")
            fcntl.flock(f, fcntl.LOCK_EX)
            f.truncate(0); f.write(str(os.getpid()) + "\\n"); f.flush()
            print("locked", flush=True)
            time.sleep(120)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        self.process = process
        let line = out.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("locked") else {
            process.terminate()
            throw TestFailure("the python3 lock holder did not start")
        }
    }

    /// SIGKILLs the holder and waits for it to die (its `flock` dies with it).
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill() }
    }
}
