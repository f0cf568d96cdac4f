import ImgContext
import Testing

/// Git addresses as BuildKit reads them: the remote forms, the `#ref:subdir` fragment, what is refused.
@Suite struct GitAddressTests {
    @Test func remoteFormsAndFragments() throws {
        let https = try #require(GitAddress.parse("https://user:secret@example.com:8443/org/repo.git#v1.2:sub/dir"))
        #expect(https.remote == "https://user:secret@example.com:8443/org/repo.git")
        #expect(https.ref == "v1.2" && https.subdirectory == "sub/dir" && https.transport == .http)
        #expect(https.host == "example.com" && https.hostAndPort == "example.com:8443")
        #expect(https.display == "https://user@example.com:8443/org/repo.git#v1.2:sub/dir", "no password in messages")

        let scp = try #require(GitAddress.parse("git@github.com:org/repo.git#main"))
        #expect(scp.transport == .ssh && scp.host == "github.com" && scp.remote == "git@github.com:org/repo.git" && scp.ref == "main")

        let ssh = try #require(GitAddress.parse("ssh://git@127.0.0.1:2222/srv/repo.git"))
        #expect(ssh.transport == .ssh && ssh.host == "127.0.0.1" && ssh.ref == nil && ssh.subdirectory == nil)

        let daemon = try #require(GitAddress.parse("git://127.0.0.1:9418/repo.git#:only/dir"))
        #expect(daemon.transport == .git && daemon.ref == nil && daemon.subdirectory == "only/dir")
    }

    @Test func refusesWhatIsNotAnAddress() {
        #expect(GitAddress.parse("repo.git") == nil)
        #expect(GitAddress.parse("https://example.com") == nil)
        #expect(GitAddress.parse("-oProxyCommand=x@host:repo.git") == nil, "never an option to git or ssh")
        #expect(GitAddress.parse("https://example.com/repo.git#main:../up") == nil, "the subdirectory stays inside")
    }
}
