import Foundation
import Logging

/// Which handler a mapping invokes: the CLI's `--handler KIND:SPEC`, or a Swift handler.
///
/// - `runtime-api:COMMAND`: long-lived Lambda runtime processes (``RuntimeAPIInvoker``), e.g.
///   `runtime-api:python3 -m awslambdaric handler.handler`.
/// - `exec:COMMAND`: one process per batch (``ExecInvoker``), e.g. `exec:./count.sh`.
/// - in-process: a ``KinesisHandler`` (Swift API only).
public enum HandlerSpec: Sendable {
    /// A Swift handler in this process.
    case inProcess(any KinesisHandler)
    /// Lambda Runtime API processes started with `/bin/sh -c command` in `directory` (ours if `nil`).
    case runtimeAPI(command: String, directory: String?)
    /// One `/bin/sh -c command` per batch in `directory` (ours if `nil`).
    case exec(command: String, directory: String?)

    /// Parses `KIND:COMMAND`.
    /// - Parameters:
    ///   - text: `runtime-api:COMMAND` or `exec:COMMAND`.
    ///   - directory: The working directory of the processes, or `nil` for ours.
    /// - Returns: The spec.
    /// - Throws: ``MappingError`` with code `.invalidParameter` for an unknown kind or an empty command.
    public static func parse(_ text: String, directory: String?) throws -> HandlerSpec {
        guard let colon = text.firstIndex(of: ":") else {
            throw MappingError(
                code: .invalidParameter,
                message: "handler \"\(text)\" has no kind; write runtime-api:COMMAND (a Lambda runtime such as "
                    + "`python3 -m awslambdaric handler.handler`) or exec:COMMAND (one process per batch)"
            )
        }
        let kind = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let command = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !command.isEmpty else {
            throw MappingError(
                code: .invalidParameter,
                message: "handler \"\(text)\" has an empty command; write \(kind):COMMAND"
            )
        }
        switch kind {
        case "runtime-api", "runtimeapi", "runtime":
            return .runtimeAPI(command: command, directory: directory)
        case "exec":
            return .exec(command: command, directory: directory)
        default:
            throw MappingError(
                code: .invalidParameter,
                message: "unknown handler kind \"\(kind)\" in \"\(text)\"; use runtime-api:COMMAND or exec:COMMAND "
                    + "(in-process handlers are Swift types passed through the API)"
            )
        }
    }

    /// Creates the invoker for this handler. No process starts until the first batch.
    /// - Parameters:
    ///   - functionName: The function name (`AWS_LAMBDA_FUNCTION_NAME`, the function ARN, ``HandlerContext``).
    ///   - timeout: The function timeout. The engine puts it into each batch's deadline; here it is only checked.
    ///   - logger: Where handler processes' starts, crashes and timeouts are logged.
    /// - Returns: The invoker; call ``Invoker/shutdown()`` when the mapping stops.
    /// - Throws: ``MappingError`` with code `.invalidParameter` for a non-positive timeout or a working directory that
    ///   does not exist.
    public func makeInvoker(functionName: String, timeout: Duration, logger: Logger) async throws -> any Invoker {
        guard timeout > .zero else {
            throw MappingError(
                code: .invalidParameter,
                message: "the function timeout must be positive, not \(timeout)"
            )
        }
        switch self {
        case .inProcess(let handler):
            return InProcessInvoker(handler: handler, functionName: functionName, logger: logger)
        case .runtimeAPI(let command, let directory):
            try Self.checkDirectory(directory)
            return RuntimeAPIInvoker(command: command, directory: directory, functionName: functionName, logger: logger)
        case .exec(let command, let directory):
            try Self.checkDirectory(directory)
            return ExecInvoker(command: command, directory: directory, functionName: functionName, logger: logger)
        }
    }

    private static func checkDirectory(_ directory: String?) throws {
        guard let directory else {
            return
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw MappingError(
                code: .invalidParameter,
                message: "the handler directory \(directory) does not exist or is not a directory"
            )
        }
    }
}
