/// One vertex of a Dockerfile build: a stage's FROM or one of its instructions as an op, with what the worker
/// needs to key it, run it and name it in progress output and errors.
package struct BuildStep: Sendable, Hashable {
    package var op: BuildOp
    package var stageIndex: Int
    /// The stage name as written, if any.
    package var stageName: String?
    /// 1-based position in the stage (FROM is 1) and the stage's number of steps, for `[name 2/5]`.
    package var number: Int
    package var count: Int
    /// The Dockerfile line the step starts on, for `Dockerfile:12: message`.
    package var line: Int
    /// The instruction as written, for the title.
    package var text: String
    /// ARG values in scope when this step runs (declared in the stage before it, or predefined), in
    /// declaration order. RUN sees them as environment variables; they are part of its cache key.
    package var args: [NamedValue]
    /// The stages this step reads (COPY --from, RUN --mount from=): their final steps are among its inputs.
    package var stageInputs: [StageInput]

    package init(op: BuildOp, stageIndex: Int, stageName: String?, number: Int, count: Int, line: Int, text: String,
                 args: [NamedValue] = [], stageInputs: [StageInput] = []) {
        self.op = op
        self.stageIndex = stageIndex
        self.stageName = stageName
        self.number = number
        self.count = count
        self.line = line
        self.text = text
        self.args = args
        self.stageInputs = stageInputs
    }

    /// `[builder 2/5] RUN make`, as BuildKit titles a step; a FROM names the image after ARG expansion
    /// (`FROM 127.0.0.1:5000/busybox:latest`, not `FROM ${REGISTRY}/busybox:latest`).
    package var title: String {
        let label = count > 1 || stageName != nil
            ? "[\(stageName.map { "\($0) " } ?? "")\(number)/\(count)]"
            : "[\(number)/\(count)]"
        if case .source(.image(let image, _)) = op { return "\(label) FROM \(image)" }
        return "\(label) \(text)"
    }
}
