import Foundation
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI
import Testing

/// A RUN that names no network (or `default`) is left to the build's `--network`; one that names its own
/// keeps it. Keys stay those of earlier builds: `default` is keyed as the host's network it was.
@Suite struct RunNetworkDefaultTests {
    func execs(_ dockerfile: String) throws -> [ExecOp] {
        let plan = try BuildPlanner.plan(dockerfile, options: BuildOptions())
        return BuildDefinition(plan: plan).graph.vertices.compactMap {
            if case .exec(let exec) = $0.operation.op { return exec }
            return nil
        }
    }

    @Test func unsetAndDefaultAreTheBuildsChoice() throws {
        let ops = try execs("""
            FROM scratch
            RUN a
            RUN --network=default b
            RUN --network=host c
            RUN --network=none d
            """)
        #expect(ops.map(\.network) == [.default, .default, .host, .none])
        let inputs = ExecOp.Inputs(parent: .sha256(of: Array("p".utf8)), platform: Platform(os: "linux", architecture: "amd64"),
                                   arguments: ["a"], environment: [], workingDirectory: "/", user: "", stageInputs: [])
        var host = ops[0]
        host.network = .host
        #expect(ops[0].cacheKey(inputs).finish() == host.cacheKey(inputs).finish())
        var none = ops[0]
        none.network = .none
        #expect(none.cacheKey(inputs).finish() != host.cacheKey(inputs).finish())
        // --add-host, --shm-size and --ulimit join the key only when given; an address is not keyed.
        var hosts = inputs
        hosts.extraHostNames = ["db"]
        #expect(host.cacheKey(hosts).finish() != host.cacheKey(inputs).finish())
        var shm = inputs
        shm.shmSize = 1 << 27
        #expect(host.cacheKey(shm).finish() != host.cacheKey(inputs).finish())
    }
}
