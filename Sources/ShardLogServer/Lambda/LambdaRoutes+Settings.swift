import Foundation
import Hummingbird
import ShardLogWire

/// `PutFunctionConcurrency`, `GetFunctionConcurrency`, `DeleteFunctionConcurrency` (reserved concurrency bounds the
/// function's slots instead of `serve --max-concurrency`) and `Put`/`Update`/`Get`/`DeleteFunctionEventInvokeConfig`
/// (retries and maximum age of Event invocations), with Lambda's paths and shapes.
extension KinesisServer {
    func registerLambdaSettingsRoutes(_ router: Router<KinesisRequestContext>, _ host: LambdaHost) {
        let small = 1 << 20
        let concurrency = "/functions/:name/concurrency"
        lambdaRoute(router, host, .put, "/2017-10-31" + concurrency, "PutFunctionConcurrency", limit: small) {
            request, service in
            let function = try KinesisServer.function(request, service)
            let p = try request.params()
            guard let value = try Self.int(p, "ReservedConcurrentExecutions") else {
                throw LambdaError(
                    "ValidationException",
                    "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy "
                        + "constraint: Member must not be null")
            }
            guard (0...LambdaOptions.concurrencyLimit).contains(value) else {
                throw LambdaError.validation(
                    String(value), "reservedConcurrentExecutions",
                    "Member must have value greater than or equal to 0 and less than or equal to "
                        + "\(LambdaOptions.concurrencyLimit)")
            }
            _ = try function.updateSettings { $0.reservedConcurrency = value }
            return Self.jsonResponse(
                JSON.fields(["ReservedConcurrentExecutions": .integer(value)]).bytes, requestID: request.requestID)
        }
        lambdaRoute(router, host, .get, "/2019-09-30" + concurrency, "GetFunctionConcurrency", limit: small) {
            request, service in
            let function = try KinesisServer.function(request, service)
            let value = function.settings.reservedConcurrency
            return Self.jsonResponse(
                JSON.fields(["ReservedConcurrentExecutions": value.map { .integer($0) }]).bytes,
                requestID: request.requestID)
        }
        lambdaRoute(router, host, .delete, "/2017-10-31" + concurrency, "DeleteFunctionConcurrency", limit: small) {
            request, service in
            let function = try KinesisServer.function(request, service)
            _ = try function.updateSettings { $0.reservedConcurrency = nil }
            return Response(status: .noContent, headers: [.amznRequestID: request.requestID])
        }
        let config = "/2019-09-25/functions/:name/event-invoke-config"
        lambdaRoute(router, host, .put, config, "PutFunctionEventInvokeConfig", limit: small) { request, service in
            try Self.putEventInvokeConfig(request, service, merge: false)
        }
        lambdaRoute(router, host, .post, config, "UpdateFunctionEventInvokeConfig", limit: small) { request, service in
            try Self.putEventInvokeConfig(request, service, merge: true)
        }
        lambdaRoute(router, host, .get, config, "GetFunctionEventInvokeConfig", limit: small) { request, service in
            let function = try KinesisServer.function(request, service)
            guard let current = function.settings.eventInvokeConfig else {
                throw Self.noEventInvokeConfig(function)
            }
            return Self.eventInvokeConfigResponse(current, function, requestID: request.requestID)
        }
        lambdaRoute(router, host, .delete, config, "DeleteFunctionEventInvokeConfig", limit: small) {
            request, service in
            let function = try KinesisServer.function(request, service)
            guard function.settings.eventInvokeConfig != nil else { throw Self.noEventInvokeConfig(function) }
            _ = try function.updateSettings { $0.eventInvokeConfig = nil }
            return Response(status: .noContent, headers: [.amznRequestID: request.requestID])
        }
    }

    private static func noEventInvokeConfig(_ function: LambdaFunction) -> LambdaError {
        LambdaError(
            "ResourceNotFoundException",
            "The function \(function.configuration.functionArn) doesn't have an EventInvokeConfig", status: .notFound)
    }

    private static func putEventInvokeConfig(_ request: LambdaRequest, _ service: LambdaService, merge: Bool)
        throws(LambdaError) -> Response
    {
        let function = try KinesisServer.function(request, service)
        let p = try request.params()
        if p.has("DestinationConfig") {
            let destinations: Params?
            do { destinations = try p.object("DestinationConfig") } catch {
                throw LambdaError.invalidParameter(error.message)
            }
            for key in ["OnSuccess", "OnFailure"] where (try? destinations?.object(key))?.has("Destination") == true {
                throw LambdaError.invalidParameter(
                    "DestinationConfig.\(key) of Event invocations is not supported by ShardLog: a failed event is "
                        + "written to the function's log with its request id (shardlog logs \(function.name))")
            }
        }
        let retries = try Self.int(p, "MaximumRetryAttempts")
        if let retries, !(0...2).contains(retries) {
            throw LambdaError.validation(
                String(retries), "maximumRetryAttempts",
                "Member must have value less than or equal to 2 and greater than or equal to 0")
        }
        let age = try Self.int(p, "MaximumEventAgeInSeconds")
        if let age, !(60...21_600).contains(age) {
            throw LambdaError.validation(
                String(age), "maximumEventAgeInSeconds",
                "Member must have value less than or equal to 21600 and greater than or equal to 60")
        }
        let now = Date().timeIntervalSince1970
        let settings = try function.updateSettings { settings in
            var config =
                merge
                ? settings.eventInvokeConfig ?? .init(lastModified: now) : .init(lastModified: now)
            if let retries { config.maximumRetryAttempts = retries }
            if let age { config.maximumEventAgeInSeconds = age }
            config.lastModified = now
            settings.eventInvokeConfig = config
        }
        guard let config = settings.eventInvokeConfig else { throw LambdaError.service("event invoke config lost") }
        return eventInvokeConfigResponse(config, function, requestID: request.requestID)
    }

    private static func eventInvokeConfigResponse(
        _ config: FunctionSettings.EventInvokeConfig, _ function: LambdaFunction, requestID: String
    ) -> Response {
        jsonResponse(
            JSON.fields([
                "LastModified": .epochMilliseconds(Int64(config.lastModified * 1000)),
                "FunctionArn": .string(function.configuration.functionArn + ":$LATEST"),
                "MaximumRetryAttempts": config.maximumRetryAttempts.map { .integer($0) },
                "MaximumEventAgeInSeconds": config.maximumEventAgeInSeconds.map { .integer($0) },
                "DestinationConfig": .fields(["OnSuccess": .fields([:]), "OnFailure": .fields([:])]),
            ]).bytes, requestID: requestID)
    }
}
