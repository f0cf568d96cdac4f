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
package actor Solver<Operation: Sendable, Output: Sendable> {
    package typealias Runner = @Sendable (Vertex<Operation>, [Output]) async throws -> Output

    private let graph: Graph<Operation>
    private let runner: Runner
    private var tasks: [Int: Task<Output, any Error>] = [:]
    private var cancelled = false
    /// The first error a vertex threw (not a cancellation it caused): what a solve reports.
    private var firstError: (any Error)?

    package init(graph: Graph<Operation>, runner: @escaping Runner) {
        self.graph = graph
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
        if let existing = tasks[id] { return existing }
        // A loop over the closure, inputs first (an input's id is always lower than its vertex's), not a
        // recursion: a Dockerfile makes a vertex per instruction, and 10,000 ENV lines overflowed the stack.
        for needed in graph.closure(of: [id]) where tasks[needed] == nil { tasks[needed] = makeTask(needed) }
        return tasks[id]!
    }

    private func makeTask(_ id: Int) -> Task<Output, any Error> {
        let vertex = graph.vertices[id]
        let inputTasks = vertex.inputs.map { tasks[$0]! }
        let runner = runner
        let created = Task<Output, any Error> {
            if self.isCancelled { throw CancellationError() }
            // Inputs were started when they were created; waiting on them in order loses nothing.
            do {
                var inputs: [Output] = []
                inputs.reserveCapacity(inputTasks.count)
                for input in inputTasks { inputs.append(try await input.value) }
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
}
