import Foundation
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// Several `img` processes on one state directory at once: tagging, loading, removing and pruning in
/// parallel never corrupt the database or lose a blob an image needs.
@Suite struct ConcurrentProcessTests {
    @Test func parallelCommandsKeepTheStoreConsistent() async throws {
        let dir = try TemporaryDirectory()
        let state = dir.url.appending(path: "state").path
        do {
            let store = try StateDirectory(root: state)
            try await UnpackTests.storeImage(store, name: "app", layers: [
                { root in try UnpackTests.write(root.appending(path: "a"), String(repeating: "a", count: 100_000)) },
            ])
            try await UnpackTests.storeImage(store, name: "other", layers: [
                { root in try UnpackTests.write(root.appending(path: "b"), String(repeating: "b", count: 50_000)) },
            ])
        }
        let archive = dir.url.appending(path: "other.tar").path
        #expect(try ImgBinary.run(["-s", state, "save", "-o", archive, "other"]).status == 0)
        #expect(try ImgBinary.run(["-s", state, "rm", "other"]).status == 0)

        let img = "'\(ImgBinary.url.path)' -s '\(state)'"
        let script = """
            fail=0
            (for i in $(seq 12); do \(img) tag app a$i || exit 1; done) & p1=$!
            (for i in $(seq 12); do \(img) prune >/dev/null || exit 1; done) & p2=$!
            (for i in $(seq 4); do \(img) load -i '\(archive)' >/dev/null || exit 1; done) & p3=$!
            (for i in $(seq 6); do \(img) tag app tmp$i && \(img) rm tmp$i >/dev/null || exit 1; done) & p4=$!
            for p in $p1 $p2 $p3 $p4; do wait $p || fail=1; done
            exit $fail
            """
        let r = try SaveLoadTests.shell(script)
        #expect(r.status == 0, "\(r.stderr)")

        let store = try StateDirectory(root: state)
        #expect(try await store.databaseIntegrityCheck() == ["ok"])
        let names = Set(try await store.images.list().map(\.name.familiar))
        #expect(names == Set(["app:latest", "other:latest"] + (1...12).map { "a\($0):latest" }))
        let usage = try await store.diskUsage()
        #expect(usage.images.allSatisfy { $0.missingBlobs == 0 }, "no image lost a blob")
        for blob in try store.content.list() { #expect(throws: Never.self) { try store.content.verify(blob.digest) } }
        // Both images still unpack.
        for name in ["a12", "other"] {
            let out = dir.url.appending(path: "rootfs-\(name)").path
            #expect(try ImgBinary.run(["-s", state, "unpack", "-o", out, name]).status == 0)
        }
    }
}
