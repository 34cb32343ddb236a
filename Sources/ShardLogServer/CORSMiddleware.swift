import HTTPTypes
import Hummingbird

/// Cross-origin resource sharing as AWS's endpoints answer it, so the JavaScript SDK works from a browser: every
/// `OPTIONS` request is a preflight answered 200 with no body (no signature needed), allowing any origin, echoing
/// the requested method and headers, cacheable for two days; every other response to a request carrying `Origin`
/// gets `Access-Control-Allow-Origin: *` and exposes the headers the SDK reads.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The response headers a browser script may read (the request id, error type and date).
    static var exposedHeaders: String {
        "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"
    }

    /// How long a browser may cache a preflight answer, in seconds (two days).
    static var maxAge: String { "172800" }

    /// Answers preflights; adds the CORS headers to the response of any request with an `Origin`.
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let origin = request.headers[.origin]
        if request.method == .options {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = "*"
            headers[.accessControlAllowMethods] = request.headers[.accessControlRequestMethod] ?? "GET, POST, OPTIONS"
            if let requested = request.headers[.accessControlRequestHeaders] {
                headers[.accessControlAllowHeaders] = requested
            }
            headers[.accessControlExposeHeaders] = Self.exposedHeaders
            headers[.accessControlMaxAge] = Self.maxAge
            headers[.contentLength] = "0"
            return Response(status: .ok, headers: headers)
        }
        var response = try await next(request, context)
        if origin != nil {
            response.headers[.accessControlAllowOrigin] = "*"
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        return response
    }
}
