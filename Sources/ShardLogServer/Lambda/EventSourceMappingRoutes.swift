import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ShardLog
import ShardLogMapping
import ShardLogWire

/// Parsing and checks of `CreateEventSourceMapping`/`UpdateEventSourceMapping` requests.
enum EventSourceMappingRequest {
    /// Lambda's form of a ``MappingError``.
    static func lambdaError(_ error: MappingError) -> LambdaError {
        switch error.code {
        case .validation: LambdaError("ValidationException", error.message)
        default: LambdaError.invalidParameter(error.message)
        }
    }

    /// Refuses keys outside `allowed`, naming them and the allowed ones.
    static func checkKeys(_ members: [String: JSON], allowed: Set<String>, operation: String) throws(LambdaError) {
        for key in members.keys.sorted() where !allowed.contains(key) {
            throw LambdaError.invalidParameter(
                "\(operation) does not take '\(key)' for a Kinesis event source; it takes: "
                    + allowed.sorted().joined(separator: ", "))
        }
    }

    /// The on-failure destination: a Kinesis stream ARN of this server or `file:PATH` (local extensions; AWS takes
    /// SQS, SNS or S3 for Kinesis sources), or `stream:NAME`.
    static func failureDestination(_ text: String) throws(LambdaError) -> FailureDestination {
        let supported =
            "ShardLog takes a Kinesis stream ARN of this server (arn:aws:kinesis:REGION:000000000000:stream/NAME) "
            + "or file:/path/to/failures.jsonl; both are local extensions that AWS refuses for Kinesis event "
            + "sources (it takes SQS, SNS or S3 destinations)"
        if text.hasPrefix("arn:"), !text.hasPrefix("arn:aws:kinesis:") {
            throw LambdaError.invalidParameter(
                "DestinationConfig.OnFailure.Destination '\(text)' is not supported: \(supported)")
        }
        do {
            return try FailureDestination(parsing: text)
        } catch {
            throw LambdaError.invalidParameter(
                "DestinationConfig.OnFailure.Destination '\(text)' is not supported: \(supported)")
        }
    }

    /// The stream named by a Kinesis stream ARN, or a stream consumer's ARN (Lambda reads through the consumer; here
    /// the consumer's stream is read the same way), of `service`'s account and region (a mapping reads streams of its
    /// own account and region, as at AWS).
    static func streamName(_ arn: String, _ service: LambdaService) throws(LambdaError) -> String {
        guard arn.hasPrefix("arn:aws:kinesis:") else {
            throw LambdaError.invalidParameter(
                "EventSourceArn '\(arn)' is not a Kinesis stream: ShardLog hosts event source mappings of its own "
                    + "Kinesis streams only (arn:aws:kinesis:\(service.region):\(service.account):stream/NAME)")
        }
        let parsed: StreamARN
        do {
            parsed = arn.contains("/consumer/") ? try ConsumerARN(parsing: arn).stream : try StreamARN(parsing: arn)
        } catch {
            throw LambdaError.invalidParameter(error.message)
        }
        guard parsed.account == service.account, parsed.region == service.region else {
            throw LambdaError.invalidParameter(
                "Cannot access stream \(arn). Please ensure the role can perform the GetRecords, GetShardIterator, "
                    + "DescribeStream, and ListStreams Actions on your stream. (The stream is in account "
                    + "\(parsed.account), region \(parsed.region); this request acts in account \(service.account), "
                    + "region \(service.region), and a mapping reads streams of its own account and region.)")
        }
        return parsed.streamName
    }
}

extension KinesisServer {
    static func mapping(_ request: LambdaRequest, _ service: LambdaService) throws(LambdaError) -> HostedMapping {
        guard let mapping = service.mapping(request.parameter("uuid")) else {
            throw LambdaError(
                "ResourceNotFoundException", "The resource you requested does not exist.", status: .notFound)
        }
        return mapping
    }

    /// Checks a configuration's function, stream and destination against this server.
    private func resolve(
        _ configuration: MappingConfiguration, _ service: LambdaService
    ) throws(LambdaError) -> (LambdaFunction, String) {
        let store = service.store
        let name = try FunctionName.parse(configuration.functionName ?? "")
        guard let function = service.function(named: name) else {
            // Lambda's answer for a mapping of a function it does not know.
            throw LambdaError.invalidParameter("Function does not exist")
        }
        let arn = configuration.eventSourceArn ?? ""
        let streamName = try EventSourceMappingRequest.streamName(arn, service)
        guard (try? store.stream(named: streamName)) != nil else {
            throw LambdaError.invalidParameter(
                "Cannot access stream \(arn). Please ensure the role can perform the GetRecords, GetShardIterator, "
                    + "DescribeStream, and ListStreams Actions on your stream. (No stream \(streamName) on this "
                    + "server: create it with aws kinesis create-stream.)")
        }
        if let destination = configuration.onFailureDestination {
            let parsed = try EventSourceMappingRequest.failureDestination(destination)
            if case .stream(let target) = parsed {
                guard target != streamName else {
                    throw LambdaError.invalidParameter(
                        "DestinationConfig.OnFailure.Destination cannot be the source stream \(streamName)")
                }
                guard (try? store.stream(named: target)) != nil else {
                    throw LambdaError.invalidParameter(
                        "DestinationConfig.OnFailure.Destination: no stream \(target) on this server: create it "
                            + "first")
                }
            }
        }
        return (function, streamName)
    }

    func createEventSourceMapping(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let params = try request.params()
        let members = params.members
        try EventSourceMappingRequest.checkKeys(
            members, allowed: MappingConfiguration.lambdaKeys.union(["Tags"]), operation: "CreateEventSourceMapping")
        let tags = try Self.tags(params)
        for key in ["FunctionName", "EventSourceArn"] where members[key] == nil {
            throw LambdaError(
                "ValidationException",
                "1 validation error detected: Value null at '\(key.prefix(1).lowercased() + key.dropFirst())' "
                    + "failed to satisfy constraint: Member must not be null")
        }
        var configuration: MappingConfiguration
        do {
            configuration = try MappingConfiguration(json: request.body)
        } catch {
            throw EventSourceMappingRequest.lambdaError(error)
        }
        if case .object(let destinations)? = members["DestinationConfig"], destinations["OnSuccess"] != nil {
            throw LambdaError.invalidParameter(
                "Unsupported DestinationConfig parameter for given event source mapping type.")
        }
        let (function, streamName) = try resolve(configuration, service)
        configuration.functionName = function.name
        // One mapping per function and event source, as Lambda keeps them.
        let source = Self.eventSourceArn(streamName: streamName, configuration: configuration, service)
        if let existing = service.allMappings().first(where: {
            $0.definition.configuration.functionName == function.name
                && Self.eventSourceArn(
                    streamName: $0.definition.streamName, configuration: $0.definition.configuration, service)
                    == source
        }) {
            throw LambdaError.conflict(
                "The event source arn (\" \(source) \") and function (\" \(function.name) \") provided mapping already "
                    + "exists. Please update or delete the existing mapping with UUID \(existing.uuid)")
        }
        if let destination = configuration.onFailureDestination {
            logger.warning(
                "event source mapping destination \(destination) is a ShardLog extension: AWS takes SQS, SNS or S3 destinations for Kinesis event sources"
            )
        }
        let uuid = UUID().uuidString.lowercased()
        var definition = MappingDefinition(
            streamName: streamName, configuration: configuration,
            timeoutSeconds: Double(function.configuration.timeout))
        definition.onFailure = try configuration.onFailureDestination.map {
            try EventSourceMappingRequest.failureDestination($0).description
        }
        do {
            try MappingCatalog.save(definition, store: service.store, name: uuid)
        } catch {
            throw LambdaError.service(error.message)
        }
        let mapping = HostedMapping(uuid: uuid, definition: definition, lastModified: Date())
        if !tags.isEmpty { try service.tags.tag(Self.mappingArn(uuid, service), tags) }
        let response = mappingResponse(
            mapping, service, requestID: request.requestID, status: .accepted,
            state: configuration.enabled ? "Creating" : "Disabled")
        service.add(mapping)
        return response
    }

    func updateEventSourceMapping(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let mapping = try Self.mapping(request, service)
        let members = try request.params().members
        try EventSourceMappingRequest.checkKeys(
            members, allowed: MappingConfiguration.updatableKeys, operation: "UpdateEventSourceMapping")
        var definition = mapping.definition
        let wasEnabled = definition.configuration.enabled
        let encoded: [UInt8]
        do {
            encoded = [UInt8](try JSONEncoder().encode(definition.configuration))
        } catch {
            throw LambdaError.service("cannot encode mapping \(mapping.uuid): \(error)")
        }
        guard case .object(var merged) = try JSON(parsing: encoded) else {
            throw LambdaError.service("cannot encode mapping \(mapping.uuid)")
        }
        for (key, value) in members { merged[key] = value }
        do {
            definition.configuration = try MappingConfiguration(json: JSON.object(merged).bytes)
        } catch {
            throw EventSourceMappingRequest.lambdaError(error)
        }
        let (function, _) = try resolve(definition.configuration, service)
        definition.configuration.functionName = function.name
        definition.timeoutSeconds = Double(function.configuration.timeout)
        definition.onFailure = try definition.configuration.onFailureDestination.map {
            try EventSourceMappingRequest.failureDestination($0).description
        }
        await mapping.stop()
        do {
            try MappingCatalog.save(definition, store: service.store, name: mapping.uuid)
        } catch {
            throw LambdaError.service(error.message)
        }
        mapping.setDefinition(definition)
        let enabled = definition.configuration.enabled
        let transition = enabled ? (wasEnabled ? "Updating" : "Enabling") : (wasEnabled ? "Disabling" : "Disabled")
        let response = mappingResponse(
            mapping, service, requestID: request.requestID, status: .accepted, state: transition)
        if enabled {
            if service.isRunning { mapping.start(service: service) }
        } else {
            await mapping.disable()
        }
        return response
    }

    func deleteEventSourceMapping(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let mapping = try Self.mapping(request, service)
        mapping.setState("Deleting")
        let response = mappingResponse(mapping, service, requestID: request.requestID, status: .accepted)
        await service.remove(mapping)
        service.tags.remove(Self.mappingArn(mapping.uuid, service))
        return response
    }

    func listEventSourceMappings(_ request: LambdaRequest, _ service: LambdaService) throws -> Response {
        let maxItems = try Self.maxItems(request, limit: 100)
        let functionName = try request.query["FunctionName"].map { text throws(LambdaError) in
            try FunctionName.parse(text)
        }
        let sourceArn = request.query["EventSourceArn"]
        var all = service.allMappings().filter { mapping in
            let configuration = mapping.definition.configuration
            if let functionName, configuration.functionName != functionName { return false }
            if let sourceArn, configuration.eventSourceArn != sourceArn { return false }
            return true
        }
        if let marker = request.query["Marker"], !marker.isEmpty {
            all = all.filter { $0.uuid >= marker }
        }
        let page = all.prefix(maxItems)
        let next = all.count > maxItems ? all[maxItems].uuid : nil
        return Self.listResponse(
            "EventSourceMappings",
            page.map { mappingJSON($0, service).bytes }, next: next,
            requestID: request.requestID)
    }

    func mappingResponse(
        _ mapping: HostedMapping, _ service: LambdaService, requestID: String, status: HTTPResponse.Status = .ok,
        state: String? = nil
    ) -> Response {
        Self.jsonResponse(
            mappingJSON(mapping, service, state: state).bytes, status: status,
            requestID: requestID)
    }

    /// `LastProcessingResult` in Lambda's words: a failed invocation is exactly `PROBLEM: Function call failed`
    /// (the error itself is in the server's log and `shardlog mappings describe`); other results as they are.
    static func lambdaProcessingResult(_ text: String) -> String {
        let failed = "PROBLEM: Function call failed"
        return text.hasPrefix(failed) ? failed : text
    }

    /// The mapping's `EventSourceArn`: as given, or (a mapping from a `--mappings` file that names a stream) the
    /// stream's ARN in `service`'s account and region.
    static func eventSourceArn(
        streamName: String, configuration: MappingConfiguration, _ service: LambdaService
    ) -> String {
        configuration.eventSourceArn
            ?? StreamARN(region: service.region, account: service.account, streamName: streamName).description
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID`.
    static func mappingArn(_ uuid: String, _ service: LambdaService) -> String {
        "arn:aws:lambda:\(service.region):\(service.account):event-source-mapping:\(uuid)"
    }

    /// The `EventSourceMappingConfiguration` Lambda returns.
    func mappingJSON(_ mapping: HostedMapping, _ service: LambdaService, state: String? = nil) -> JSON {
        let definition = mapping.definition
        let c = definition.configuration
        let functionName = c.functionName ?? ""
        let functionArn =
            service.function(named: functionName)?.configuration.functionArn
            ?? service.functionArn(functionName)
        let streamArn = Self.eventSourceArn(streamName: definition.streamName, configuration: c, service)
        var filter: JSON?
        if let criteria = c.filterCriteria, let bytes = try? JSONEncoder().encode(criteria) {
            filter = try? JSON(parsing: [UInt8](bytes))
        }
        let destination: JSON = c.onFailureDestination.map { .fields(["Destination": .string($0)]) } ?? .fields([])
        let lastModified = Int64(mapping.lastModified.timeIntervalSince1970 * 1000)
        return .fields([
            "UUID": .string(mapping.uuid),
            "StartingPosition": .string(c.startingPosition.rawValue),
            "StartingPositionTimestamp": c.startingPositionTimestamp.map {
                JSON.epochMilliseconds(Int64($0.timeIntervalSince1970 * 1000))
            },
            "BatchSize": .integer(c.batchSize),
            "MaximumBatchingWindowInSeconds": .integer(c.maximumBatchingWindowInSeconds),
            "ParallelizationFactor": .integer(c.parallelizationFactor),
            "EventSourceArn": .string(streamArn),
            "FilterCriteria": filter,
            "FunctionArn": .string(functionArn),
            "LastModified": .epochMilliseconds(lastModified),
            "LastProcessingResult": .string(
                Self.lambdaProcessingResult(mapping.lastProcessingResult(store: service.store))),
            "State": .string(state ?? mapping.lambdaState),
            "StateTransitionReason": .string(mapping.stateTransitionReason),
            "DestinationConfig": .fields(["OnFailure": destination]),
            "MaximumRecordAgeInSeconds": .integer(c.maximumRecordAgeInSeconds),
            "BisectBatchOnFunctionError": .bool(c.bisectBatchOnFunctionError),
            "MaximumRetryAttempts": .integer(c.maximumRetryAttempts),
            "TumblingWindowInSeconds": .integer(c.tumblingWindowInSeconds),
            "FunctionResponseTypes": .array(c.functionResponseTypes.map(JSON.string)),
            "EventSourceMappingArn": .string(Self.mappingArn(mapping.uuid, service)),
            "MetricsConfig": c.metrics.map { .fields(["Metrics": .array($0.map(JSON.string))]) },
            "KMSKeyArn": c.kmsKeyArn.flatMap { $0.isEmpty ? nil : .string($0) },
        ])
    }
}
