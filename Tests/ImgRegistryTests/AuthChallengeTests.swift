import ImgRegistry
import Testing
import ImgTestSupport

@Suite struct AuthChallengeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var header: String
        var scheme: AuthChallenge.Scheme
        var parameters: [String: String]
        var testDescription: String { header }
    }

    @Test(arguments: [
        Case(header: #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
             scheme: .bearer,
             parameters: ["realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                          "scope": "repository:library/busybox:pull"]),
        Case(header: #"Basic realm="img-test""#, scheme: .basic, parameters: ["realm": "img-test"]),
        Case(header: #"bearer  realm = "http://127.0.0.1:1/token" , service="a \"quoted\" b""#, scheme: .bearer,
             parameters: ["realm": "http://127.0.0.1:1/token", "service": #"a "quoted" b"#]),
        Case(header: #"Bearer realm=http://h/t,scope="repository:a/b:pull,push""#, scheme: .bearer,
             parameters: ["realm": "http://h/t", "scope": "repository:a/b:pull,push"]),
    ])
    func parses(_ c: Case) {
        let parsed = AuthChallenge.parse(c.header)
        #expect(parsed == [AuthChallenge(scheme: c.scheme, parameters: c.parameters)])
    }

    @Test func skipsUnknownSchemesAndKeepsSeveral() {
        let parsed = AuthChallenge.parse(#"Negotiate abc, Basic realm="r", Bearer realm="t",service="s""#)
        #expect(parsed.map(\.scheme) == [.basic, .bearer])
        #expect(parsed.last?.service == "s")
    }
}
