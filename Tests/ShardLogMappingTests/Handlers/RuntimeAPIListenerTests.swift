import Testing

@testable import ShardLogMapping

/// The listener's routing: the Runtime API's four routes by method and path, everything else unknown (404).
@Suite
struct RuntimeAPIListenerTests {
    typealias Route = RuntimeAPIListener.Route

    @Test func theFourRoutesAreRecognised() {
        #expect(Route(method: "GET", uri: "/2018-06-01/runtime/invocation/next") == .next)
        #expect(Route(method: "GET", uri: "/2018-06-01/runtime/invocation/next?x=1") == .next)
        #expect(
            Route(method: "POST", uri: "/2018-06-01/runtime/invocation/abc-1/response") == .response(requestId: "abc-1")
        )
        #expect(Route(method: "POST", uri: "/2018-06-01/runtime/invocation/abc-1/error") == .error(requestId: "abc-1"))
        #expect(Route(method: "POST", uri: "/2018-06-01/runtime/init/error") == .initError)
    }

    @Test(arguments: [
        ("POST", "/2018-06-01/runtime/invocation/next"),
        ("GET", "/2018-06-01/runtime/invocation/abc/response"),
        ("POST", "/2018-06-01/runtime/invocation//response"),
        ("POST", "/2018-06-01/runtime/invocation/a/b/response"),
        ("GET", "/2018-06-01/runtime/next"),
        ("GET", "/2020-01-01/runtime/invocation/next"),
        ("GET", "/"),
    ])
    func otherRequestsAreUnknown(method: String, uri: String) {
        #expect(Route(method: method, uri: uri) == .unknown)
    }
}
