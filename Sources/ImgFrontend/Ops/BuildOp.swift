/// What one vertex of a build does, in terms the worker runs without knowing Dockerfile syntax: the
/// frontend translates each instruction into one of these (BuildKit's LLB ops play the same part).
package enum BuildOp: Sendable, Hashable {
    /// A stage's start: scratch, an image, or the result of another stage (input 0).
    case source(ImageSource)
    /// A command in a container over input 0's filesystem (RUN).
    case exec(ExecOp)
    /// Files written into input 0's filesystem: a copy from the context, a stage, an image, URLs or inline
    /// files (COPY, ADD), or the working directory made (WORKDIR).
    case file(FileOp)
    /// A copy made on an empty filesystem and merged onto input 0 as one more layer (COPY --link), so a
    /// changed parent leaves it cached.
    case merge(MergeOp)
    /// A change to the image config only (ENV, LABEL, CMD, USER, ...).
    case config(ConfigChange)
}

/// A name and its value, in the order written (ENV, LABEL, ARG values in scope).
package struct NamedValue: Sendable, Hashable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A command as written: one string run through the stage's SHELL, or an argument vector.
package enum CommandForm: Sendable, Hashable {
    case shell(String)
    case exec([String])

    /// The argument vector given the stage's SHELL (`/bin/sh -c` when it set none).
    package func arguments(shell: [String]?) -> [String] {
        switch self {
        case .exec(let words): words
        case .shell(let text): (shell ?? ["/bin/sh", "-c"]) + [text]
        }
    }
}

/// A filesystem op's reference to another stage's result: how the instruction named it and where its final
/// vertex is among this vertex's inputs.
package struct StageInput: Sendable, Hashable {
    /// What the instruction wrote (`builder`, `0`).
    package var name: String
    package var stage: Int
    package var inputPosition: Int

    package init(name: String, stage: Int, inputPosition: Int) {
        self.name = name
        self.stage = stage
        self.inputPosition = inputPosition
    }
}
