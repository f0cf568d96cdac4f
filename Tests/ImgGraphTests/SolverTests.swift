import ImgGraph
import ImgOCI
import Synchronization
import Testing

/// Records which vertices ran, how often, and how many ran at once.
final class RunLog: Sendable {
    private let state = Mutex<(runs: [Int: Int], running: Int, peak: Int, order: [Int])>(([:], 0, 0, []))

    func begin(_ id: Int) {
        state.withLock {
            $0.runs[id, default: 0] += 1
            $0.running += 1
            $0.peak = max($0.peak, $0.running)
            $0.order.append(id)
        }
    }

    func end() { state.withLock { $0.running -= 1 } }

    var runs: [Int: Int] { state.withLock { $0.runs } }
    var peak: Int { state.withLock { $0.peak } }
    var order: [Int] { state.withLock { $0.order } }
}

struct SolverError: Error, Equatable { var id: Int }

@Suite struct SolverTests {
    /// A diamond: 0 → (1, 2) → 3. 1 and 2 both need 0; 3 needs both.
    func diamond() -> Graph<String> {
        var graph = Graph<String>()
        let a = graph.add("a")
        let b = graph.add("b", inputs: [a])
        let c = graph.add("c", inputs: [a])
        graph.add("d", inputs: [b, c])
        return graph
    }

    @Test func everyVertexRunsOnceAndSeesItsInputs() async throws {
        let log = RunLog()
        let solver = Solver<String, String>(graph: diamond()) { vertex, inputs in
            log.begin(vertex.id)
            defer { log.end() }
            return vertex.operation + "(" + inputs.joined(separator: ",") + ")"
        }
        let result = try await solver.solve(3)
        #expect(result == "d(b(a()),c(a()))")
        #expect(log.runs == [0: 1, 1: 1, 2: 1, 3: 1])
        // Solving again reuses the results.
        #expect(try await solver.solve(1) == "b(a())")
        #expect(log.runs[1] == 1)
        #expect(log.order.first == 0 && log.order.last == 3)
    }

    @Test func independentBranchesOverlap() async throws {
        // b and c each wait until both have started: only possible if they run at the same time.
        let started = Mutex(Set<Int>())
        let log = RunLog()
        let solver = Solver<String, String>(graph: diamond()) { vertex, _ in
            log.begin(vertex.id)
            defer { log.end() }
            if vertex.id == 1 || vertex.id == 2 {
                started.withLock { _ = $0.insert(vertex.id) }
                var spins = 0
                while started.withLock({ $0.count }) < 2 {
                    spins += 1
                    if spins > 2_000 { throw SolverError(id: vertex.id) }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            return vertex.operation
        }
        _ = try await solver.solve(3)
        #expect(log.peak >= 2)
    }

    @Test func aFailureStopsTheRestAndIsTheErrorThrown() async throws {
        var graph = Graph<String>()
        let slow = graph.add("slow")
        let failing = graph.add("failing")
        graph.add("join", inputs: [slow, failing])
        let log = RunLog()
        let slowWasCancelled = Mutex(false)
        let solver = Solver<String, String>(graph: graph) { vertex, _ in
            log.begin(vertex.id)
            defer { log.end() }
            switch vertex.id {
            case 0:
                // Cancelled by the failure long before this ends.
                do { try await Task.sleep(for: .seconds(600)) } catch {
                    slowWasCancelled.withLock { $0 = true }
                    throw error
                }
                return "slow"
            case 1:
                throw SolverError(id: 1)
            default:
                return "join"
            }
        }
        await #expect(throws: SolverError(id: 1)) { try await solver.solve([2]) }
        #expect(slowWasCancelled.withLock { $0 }, "the slow branch was cancelled, not waited for")
        #expect(log.runs[2] == nil)
    }

    @Test func closureHoldsOnlyWhatARootNeeds() {
        var graph = Graph<String>()
        let a = graph.add("a")
        let unused = graph.add("unused")
        let b = graph.add("b", inputs: [a])
        #expect(graph.closure(of: [b]) == [a, b])
        #expect(!graph.closure(of: [b]).contains(unused))
    }
}

@Suite struct CacheKeyTests {
    @Test func fieldsAreUnambiguous() {
        var one = CacheKeyBuilder(kind: "run")
        one.add("command", ["a b", "c"])
        var two = CacheKeyBuilder(kind: "run")
        two.add("command", ["a", "b c"])
        #expect(one.finish() != two.finish())

        var three = CacheKeyBuilder(kind: "run")
        three.add("command", ["a b", "c"])
        #expect(one.finish() == three.finish())
    }

    @Test func kindSeparatesOperations() {
        var run = CacheKeyBuilder(kind: "run")
        run.add("x", "1")
        var copy = CacheKeyBuilder(kind: "copy")
        copy.add("x", "1")
        #expect(run.finish() != copy.finish())
    }
}

@Suite struct SolverChainTests {
    /// One vertex per Dockerfile instruction: a chain as long as the file recursed once per vertex.
    @Test func longChainSolvesWithoutDeepRecursion() async throws {
        var graph = Graph<Int>()
        var previous = graph.add(0)
        for i in 1..<100_000 { previous = graph.add(i, inputs: [previous]) }
        let solver = Solver<Int, Int>(graph: graph, keepsIntermediateOutputs: false) { vertex, inputs in
            (inputs.first ?? 0) + 1
        }
        #expect(try await solver.solve(previous) == 100_000)
    }
}
