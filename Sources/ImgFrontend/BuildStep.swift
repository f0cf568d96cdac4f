package import ImgDockerfile

/// One vertex of a Dockerfile build: a stage's FROM or one of its instructions, with what the worker needs
/// to run it and to name it in progress output.
package struct BuildStep: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// The stage's start: scratch, an image, or another stage (whose final step is this vertex's input).
        case from(StageBase, platform: BuildPlatform?)
        /// An instruction after FROM; the previous step of the stage is input 0.
        case instruction
    }

    package var kind: Kind
    package var stageIndex: Int
    /// The stage name as written, if any.
    package var stageName: String?
    /// 1-based position in the stage (FROM is 1) and the stage's number of steps, for `[name 2/5]`.
    package var number: Int
    package var count: Int
    package var instruction: Instruction
    /// ARG values in scope when this step runs (declared in the stage before it, or predefined), in
    /// declaration order. RUN sees them as environment variables; they are part of its cache key.
    package var args: [KeyValue]
    /// For COPY --from / RUN --mount from= naming a stage: that stage's index, and the position of its
    /// final step among this vertex's inputs.
    package var stageInputs: [StageInput]

    package struct StageInput: Sendable, Hashable {
        /// What the instruction wrote (`builder`, `0`).
        package var name: String
        package var stage: Int
        package var inputPosition: Int
    }

    /// `[builder 2/5] RUN make`, as BuildKit titles a step; a FROM names the image after ARG expansion
    /// (`FROM 127.0.0.1:5000/busybox:latest`, not `FROM ${REGISTRY}/busybox:latest`).
    package var title: String {
        let label = count > 1 || stageName != nil
            ? "[\(stageName.map { "\($0) " } ?? "")\(number)/\(count)]"
            : "[\(number)/\(count)]"
        if case .from(.image(let image), _) = kind { return "\(label) FROM \(image)" }
        return "\(label) \(instruction.node.original)"
    }
}
