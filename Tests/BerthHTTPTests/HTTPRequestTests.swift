import BerthHTTP
import Testing

struct HTTPRequestTests {
    @Test(arguments: [
        ("/_ping", "/_ping"),
        ("/containers/my%20web/json?all=1", "/containers/my web/json"),
        ("/images/a+b/json", "/images/a+b/json"),
        ("/bad%zzescape", "/bad%zzescape"),
    ])
    func pathIsPercentDecoded(uri: String, path: String) {
        #expect(HTTPRequest(method: "GET", uri: uri).path == path)
    }

    @Test func queryKeepsRepeatedKeysAndDecodes() {
        let request = HTTPRequest(method: "GET", uri: "/x?filters=%7B%22a%22%7D&all=1&t=a&t=b+c&flag")
        #expect(request.query["t"] == ["a", "b c"])
        #expect(request.queryValue("filters") == "{\"a\"}")
        #expect(request.queryValue("all") == "1")
        #expect(request.queryValue("flag") == "")
        #expect(request.queryValue("missing") == nil)
    }

    @Test func headersAreCaseInsensitive() {
        let request = HTTPRequest(
            method: "POST", uri: "/", headers: [("Connection", "keep-alive, Upgrade"), ("UPGRADE", "tcp")])
        #expect(request.headers["connection"] == "keep-alive, Upgrade")
        #expect(request.headers["Upgrade"] == "tcp")
        #expect(request.wantsUpgrade)
        #expect(!HTTPRequest(method: "POST", uri: "/").wantsUpgrade)
    }

    @Test func collectRefusesTooLargeBodies() async throws {
        let small = HTTPBodyStream.bytes(Array(repeating: 1, count: 10))
        #expect(try await small.collect(upTo: 10).count == 10)
        await #expect(throws: (any Error).self) {
            try await HTTPBodyStream.bytes(Array(repeating: 1, count: 11)).collect(upTo: 10)
        }
    }
}
