import ImgOCI
import ImgWorker

/// One platform's share of a multi-platform build: its steps get vertex numbers of their own (each platform
/// has its own graph) and titles that name the platform, `[linux/arm64 2/3] RUN make`, as BuildKit shows them.
struct PlatformProgress: BuildProgress {
    let base: any BuildProgress
    let platform: Platform
    /// Added to this platform's vertex ids; platforms are `stride` apart.
    let offset: Int

    static let stride = 1 << 20

    init(_ base: any BuildProgress, platform: Platform, index: Int) {
        self.base = base
        self.platform = platform
        offset = index * Self.stride
    }

    func started(_ vertex: Int, title: String) {
        base.started(vertex + offset, title: Self.title(title, platform: platform))
    }
    func cached(_ vertex: Int) { base.cached(vertex + offset) }
    func output(_ vertex: Int, _ bytes: [UInt8]) { base.output(vertex + offset, bytes) }
    func note(_ vertex: Int, _ text: String) { base.note(vertex + offset, text) }
    func finished(_ vertex: Int) { base.finished(vertex + offset) }
    func failed(_ vertex: Int, _ message: String) { base.failed(vertex + offset, message) }
    func message(_ text: String) { base.message("[\(platform)] " + text) }

    /// `[2/3] RUN x` → `[linux/arm64 2/3] RUN x`.
    static func title(_ title: String, platform: Platform) -> String {
        guard title.hasPrefix("[") else { return "[\(platform)] " + title }
        return "[\(platform) " + title.dropFirst()
    }
}
