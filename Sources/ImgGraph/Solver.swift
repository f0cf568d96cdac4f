/// A vertex of a build graph: an operation and the vertices whose results it needs.
package struct Vertex<Operation: Sendable>: Sendable {
    package var id: Int
    package var operation: Operation
    package var inputs: [Int]

    package init(id: Int, operation: Operation, inputs: [Int]) {
        self.id = id
        self.operation = operation
        self.inputs = inputs
    }
}

/// A graph of operations; vertex ids are indices into `vertices`.
package struct Graph<Operation: Sendable>: Sendable {
    package var vertices: [Vertex<Operation>] = []

    package init() {}

    /// Adds a vertex whose inputs must already be in the graph (so the graph is acyclic by construction).
    @discardableResult
    package mutating func add(_ operation: Operation, inputs: [Int] = []) -> Int {
        precondition(inputs.allSatisfy { $0 >= 0 && $0 < vertices.count }, "inputs must precede the vertex")
        let id = vertices.count
        vertices.append(Vertex(id: id, operation: operation, inputs: inputs))
        return id
    }

    /// Every vertex `roots` need, the roots included, ascending.
    package func closure(of roots: [Int]) -> [Int] {
        var seen = Set<Int>()
        var stack = roots
        while let id = stack.popLast() {
            guard seen.insert(id).inserted else { continue }
            stack.append(contentsOf: vertices[id].inputs)
        }
        return seen.sorted()
    }
}

/// Runs a graph: each vertex at most once, a vertex as soon as all its inputs are done, independent vertices
/// concurrently. What a vertex does (cache lookups included) is the runner's business.
///
/// The first failure cancels the rest of the solve; its error is the one thrown.
///
/// With `keepsIntermediateOutputs: false`, a vertex's output is kept only until every vertex created so far
/// that needs it has read it (the roots passed to `solve` are kept for good): a Dockerfile makes one vertex
/// per instruction, and keeping every intermediate image config made memory quadratic in the number of ENV
/// lines. Solving a dropped vertex again then runs it again.
package actor Solver<Operation: Sendable, Output: Sendable> {
    package typealias Runner = @Sendable (Vertex<Operation>, [Output]) async throws -> Output

    private let graph: Graph<Operation>
    private let runner: Runner
    private var tasks: [Int: Task<Output, any Error>] = [:]
    /// For each vertex with a task: how many created tasks still have to read its output.
    private var readers: [Int: Int] = [:]
    private var roots: Set<Int> = []
    private let keepsIntermediateOutputs: Bool
    private var cancelled = false
    /// The first error a vertex threw (not a cancellation it caused): what a solve reports.
    private var firstError: (any Error)?

    package init(graph: Graph<Operation>, keepsIntermediateOutputs: Bool = true, runner: @escaping Runner) {
        self.graph = graph
        self.keepsIntermediateOutputs = keepsIntermediateOutputs
        self.runner = runner
    }

    /// The output of `id`, running it and what it needs if that has not happened yet.
    package func solve(_ id: Int) async throws -> Output {
        try await solve([id])[0]
    }

    /// Solves several roots together, cancelling everything on the first error.
    package func solve(_ roots: [Int]) async throws -> [Output] {
        let ordered = roots.map { task(for: $0) }
        do {
            var outputs: [Output] = []
            for task in ordered { outputs.append(try await task.value) }
            return outputs
        } catch {
            cancelAll()
            throw firstError ?? error
        }
    }

    package func cancelAll() {
        cancelled = true
        for task in tasks.values { task.cancel() }
    }

    private var isCancelled: Bool { cancelled }

    private func failed(_ error: any Error) {
        if firstError == nil, !(error is CancellationError) { firstError = error }
        cancelAll()
    }

    private func task(for id: Int) -> Task<Output, any Error> {
        roots.insert(id)
        if let existing = tasks[id] { return existing }
        // Inputs have lower ids than their vertex, so creating the closure's tasks in ascending order
        // finds every input's task already made. A loop, not recursion: one vertex per Dockerfile
        // instruction made a recursion as deep as the file is long (10,000 ENV lines overflowed the stack).
        for needed in graph.closure(of: [id]) where tasks[needed] == nil { tasks[needed] = makeTask(needed) }
        return tasks[id]!
    }

    private func makeTask(_ id: Int) -> Task<Output, any Error> {
        let vertex = graph.vertices[id]
        for input in vertex.inputs { readers[input, default: 0] += 1 }
        let runner = runner
        // The closure does not capture the input tasks: looked up when it runs, they are let go of as soon
        // as their outputs are read, so `consumed` can free them.
        let created = Task<Output, any Error> {
            if self.isCancelled { throw CancellationError() }
            // Inputs were started when they were created; waiting on them in order loses nothing.
            do {
                var inputs: [Output] = []
                inputs.reserveCapacity(vertex.inputs.count)
                for input in vertex.inputs { inputs.append(try await self.output(of: input)) }
                self.consumed(vertex.inputs)
                try Task.checkCancellation()
                return try await runner(vertex, inputs)
            } catch {
                // Stop the other branches now rather than when someone happens to await them.
                self.failed(error)
                throw error
            }
        }
        return created
    }

    /// Awaits an input's task; it exists until this reader has called `consumed`.
    private func output(of id: Int) async throws -> Output {
        let input = tasks[id]!
        return try await input.value
    }

    /// A reader has its copy of these outputs; drop each one nothing else will read.
    private func consumed(_ inputs: [Int]) {
        if keepsIntermediateOutputs { return }
        for input in inputs {
            readers[input, default: 1] -= 1
            if readers[input] == 0, !roots.contains(input) {
                readers[input] = nil
                tasks[input] = nil
            }
        }
    }
}
