import Foundation
import Logging
import ShardLog
import ShardLogWire
import Synchronization

/// Runs batches in long-lived processes that speak the AWS Lambda Runtime API (the `runtime-api:COMMAND` handler
/// kind): `python3 -m awslambdaric module.function`, a custom-runtime `bootstrap`, any Lambda runtime interface
/// client.
///
/// **One process per concurrency slot.** Each ``InvocationBatch/slot`` gets its own process, started lazily by its
/// first batch with `/bin/sh -c COMMAND` and reused for every later batch of that slot; as in Lambda, a process
/// handles one invocation at a time.
///
/// **One listener per slot.** Each slot's process is pointed at its own Runtime API listener on `127.0.0.1` (an
/// ephemeral port), through `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`. The variable is a bare `host:port` by contract,
/// and runtime clients build their URLs differently (some parse it as a URL authority), so a per-process path prefix
/// on one shared port is not portable; a per-slot port is, and it makes routing trivial: everything that arrives on
/// a slot's port belongs to that slot, so `/next` can never hand a batch to another slot's process. A listener costs
/// one socket and is started with the slot's first process.
///
/// **Failures.**
/// - The process exits mid-invocation: `.crashed("Runtime.ExitError: …")`; the next batch starts a fresh process.
/// - The invocation is still running at the deadline: the process group is killed (`SIGKILL`), `.timedOut`.
/// - The runtime posts `/runtime/init/error` (`Runtime.ImportModuleError`, …): `.crashed("Runtime.InitError: …")`,
///   a function error as in Lambda.
/// - The handler could not start: `/bin/sh` cannot be started (a missing directory), or the process exits before
///   it calls the Runtime API at all (a command that is not found exits with status 127; a runtime that is not
///   installed): `.serviceError("handler could not start: …")` with the exit status and the last output lines.
///   The mapping retries it with a back-off and discards nothing.
///
/// **Cold starts.** The deadline is extended by the time the process took to ask for the event (its init), at most
/// 10 s, as Lambda does not count a function's init phase against its timeout. `Lambda-Runtime-Deadline-Ms` carries
/// the extended deadline.
///
/// Process output (stdout and stderr) is passed through to our standard error with a `[<function> slot N] ` prefix
/// (above `shardlog map`'s status line). A function error's `stackTrace` is logged at debug level.
/// ``shutdown()`` stops every process (`SIGTERM`, then `SIGKILL` after 2 s) and every listener. Thread-safe: the
/// engine may invoke different slots concurrently.
public final class RuntimeAPIInvoker: Invoker {
    /// The command that starts a runtime process.
    public let command: String
    /// The absolute working directory of the processes (`LAMBDA_TASK_ROOT`).
    public let directory: String
    /// The function name (`AWS_LAMBDA_FUNCTION_NAME`, the function ARN).
    public let functionName: String

    private let logger: Logger
    private let function: FunctionRuntimeOptions
    private let state = Mutex(State())
    /// Where this invoker's slots start taking event loops in turn (``RuntimeConfiguration/firstEventLoop``).
    private let firstEventLoop = RuntimeAPIInvoker.invokersCreated.wrappingAdd(1, ordering: .relaxed).oldValue
    private static let invokersCreated = Atomic<Int>(0)

    private struct State {
        var slots: [Int: RuntimeSlot] = [:]
        var isShutDown = false
    }

    /// Creates an invoker; no process or listener starts until the first batch.
    /// - Parameters:
    ///   - command: The command, run by `/bin/sh -c` with the Lambda environment.
    ///   - directory: The working directory (relative paths are resolved against ours), or `nil` for ours.
    ///   - functionName: The function name.
    ///   - logger: Where process starts, crashes and timeouts are logged.
    ///   - function: What a deployed function adds: its handler, environment, ARN and log hooks.
    public init(
        command: String, directory: String?, functionName: String, logger: Logger,
        function: FunctionRuntimeOptions = FunctionRuntimeOptions()
    ) {
        self.command = command
        self.directory = Self.absolutePath(directory)
        self.functionName = functionName
        self.logger = logger
        self.function = function
    }

    /// Runs `batch` in its slot's process, starting the process (and the slot's listener) if needed.
    /// - Parameter batch: The batch.
    /// - Returns: The outcome; never throws.
    public func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        guard let slot = slot(batch.slot) else {
            return .serviceError("the Runtime API invoker for \(functionName) has been shut down")
        }
        return await slot.invoke(batch)
    }

    /// The event loop of the slot's Runtime API listener, so the mapping runs the slot's batches there.
    /// - Parameter slot: The slot.
    /// - Returns: The executor, or `nil` once shut down.
    public func taskExecutor(slot index: Int) -> (any TaskExecutor)? {
        slot(index)?.taskExecutor
    }

    /// The slot `index`, created on first use; `nil` once shut down.
    private func slot(_ index: Int) -> RuntimeSlot? {
        state.withLock { state in
            guard !state.isShutDown else {
                return nil
            }
            if let existing = state.slots[index] {
                return existing
            }
            let created = RuntimeSlot(index: index, configuration: configuration)
            state.slots[index] = created
            return created
        }
    }

    /// Stops every runtime process (`SIGTERM`, then `SIGKILL` after 2 s) and every listener. Later invocations
    /// return `.serviceError`.
    public func shutdown() async {
        let slots = state.withLock { state in
            state.isShutDown = true
            return Array(state.slots.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for slot in slots {
                group.addTask {
                    await slot.shutdown()
                }
            }
        }
    }

    /// The process id of a slot's current runtime process, if it has one (for diagnostics and tests).
    /// - Parameter slot: The slot.
    /// - Returns: The shell's process id, or `nil`.
    package func processIdentifier(slot: Int) -> Int32? {
        state.withLock { $0.slots[slot] }?.processIdentifier
    }

    /// The `AWS_LAMBDA_RUNTIME_API` value of a slot (`127.0.0.1:<port>`), once its listener runs.
    /// - Parameter slot: The slot.
    /// - Returns: The address, or `nil`.
    package func runtimeAPIAddress(slot: Int) -> String? {
        state.withLock { $0.slots[slot] }?.port.map { "127.0.0.1:\($0)" }
    }

    /// The environment a runtime process of this invoker gets when its Runtime API listens on `port`: ours plus the
    /// variables a Lambda runtime reads (for a benchmark's baseline that must start the same processes).
    /// - Parameter port: The Runtime API's port on `127.0.0.1`.
    /// - Returns: The environment.
    package func runtimeEnvironment(port: Int) -> [String: String] {
        configuration.environment(port: port)
    }

    private var configuration: RuntimeConfiguration {
        RuntimeConfiguration(
            command: command, directory: directory, functionName: functionName, logger: logger, function: function,
            firstEventLoop: firstEventLoop)
    }

    private static func absolutePath(_ directory: String?) -> String {
        let current = FileManager.default.currentDirectoryPath
        guard let directory, !directory.isEmpty else {
            return current
        }
        let path = directory.hasPrefix("/") ? directory : current + "/" + directory
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// What every slot of one ``RuntimeAPIInvoker`` shares.
struct RuntimeConfiguration: Sendable {
    /// The command that starts a runtime process.
    var command: String
    /// The absolute working directory.
    var directory: String
    /// The function name.
    var functionName: String
    /// The logger.
    var logger: Logger
    /// A deployed function's settings.
    var function = FunctionRuntimeOptions()
    /// The event loop of slot 0, counted in the shared group (modulo its size): each invoker starts at another one,
    /// so the first slots of several functions do not all share a thread.
    var firstEventLoop = 0

    /// The function ARN handed to the runtime.
    var functionARN: String {
        function.functionARN ?? FunctionIdentity.arn(functionName: functionName)
    }

    /// The `_HANDLER` value: the command's last word (`handler.handler` in `python3 -m awslambdaric handler.handler`),
    /// unless our own environment sets `_HANDLER`.
    var handlerName: String {
        if let handler = function.handler {
            return handler
        }
        if let inherited = ProcessInfo.processInfo.environment["_HANDLER"], !inherited.isEmpty {
            return inherited
        }
        return command.split(whereSeparator: \.isWhitespace).last.map(String.init) ?? command
    }

    /// The environment of a runtime process that talks to `port`: ours, plus the variables a Lambda runtime reads.
    func environment(port: Int) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        // It switches awslambdaric into a forking multi-concurrency mode; one invocation per process is the contract.
        environment.removeValue(forKey: "AWS_LAMBDA_MAX_CONCURRENCY")
        let day = JSONTimestamp.iso8601(Date(), milliseconds: false).prefix(10).replacingOccurrences(of: "-", with: "/")
        let stream = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let variables: [String: String] = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)",
            "_HANDLER": handlerName,
            "LAMBDA_TASK_ROOT": directory,
            "LAMBDA_RUNTIME_DIR": directory,
            "AWS_LAMBDA_FUNCTION_NAME": functionName,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/\(functionName)",
            "AWS_LAMBDA_LOG_STREAM_NAME": "\(day)/[$LATEST]\(stream)",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_shardlog",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_ACCESS_KEY_ID": "shardlog",
            "AWS_SECRET_ACCESS_KEY": "shardlog",
            "AWS_SESSION_TOKEN": "shardlog",
            "PYTHONPATH": directory + (environment["PYTHONPATH"].map { $0.isEmpty ? "" : ":" + $0 } ?? ""),
        ]
        environment.merge(function.environment) { _, new in new }
        environment.merge(variables) { _, new in new }
        environment.merge(function.reservedEnvironment) { _, new in new }
        return environment
    }
}

/// What a function deployed through the Lambda API adds to a ``RuntimeAPIInvoker``: its handler and environment, its
/// ARN, and hooks that receive its processes' output and its error bodies (for its log and `Invoke`'s answer).
public struct FunctionRuntimeOptions: Sendable {
    /// `_HANDLER`, or `nil` to take the command's last word.
    public var handler: String?
    /// The function's `Environment.Variables` (Lambda's own variables win over them).
    public var environment: [String: String]
    /// Lambda's variables that differ from the defaults (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, …).
    public var reservedEnvironment: [String: String]
    /// The function ARN, or `nil` for `arn:aws:lambda:us-east-1:000000000000:function:<name>`.
    public var functionARN: String?
    /// Receives every chunk a runtime process writes (stdout and stderr) with its slot, instead of our standard
    /// error; `nil` forwards the output to our standard error.
    public var output: (@Sendable (_ slot: Int, _ chunk: [UInt8]) -> Void)?
    /// Receives the body a runtime posts to `/error` or `/init/error`, with the request id (`nil` for an init error).
    public var errorBody: (@Sendable (_ requestId: String?, _ body: [UInt8]) -> Void)?

    /// Creates the options; all empty by default.
    public init(
        handler: String? = nil, environment: [String: String] = [:], reservedEnvironment: [String: String] = [:],
        functionARN: String? = nil, output: (@Sendable (_ slot: Int, _ chunk: [UInt8]) -> Void)? = nil,
        errorBody: (@Sendable (_ requestId: String?, _ body: [UInt8]) -> Void)? = nil
    ) {
        self.handler = handler
        self.environment = environment
        self.reservedEnvironment = reservedEnvironment
        self.functionARN = functionARN
        self.output = output
        self.errorBody = errorBody
    }
}
