// BuildKitReference.swift owns the BuildKit comparison's data (Tests/BuildKitReference: the cases, BuildKit's
// recorded results, img's known differences) and reducing an image archive to what the comparison is about.
import Foundation
import Glibc
import ImgArchive
import ImgOCI
import ImgTestSupport

/// A JSON value, compared structurally: the recorded results are read as these and img's are made as these.
enum JSONValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Compact JSON with sorted keys, for failure messages.
    var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "?"
    }
}

/// One case of Tests/BuildKitReference/cases.json: a Dockerfile and the context files it is built with.
struct BuildKitCase: Decodable, Sendable {
    struct File: Decodable, Sendable { var path: String; var content: String; var mode: String }
    struct Symlink: Decodable, Sendable { var path: String; var target: String }
    /// A tar made in the context from one of its directories (`tar -C dir -cf path members...`).
    struct Tar: Decodable, Sendable {
        var path: String; var dir: String; var members: [String]; var transform: String?; var gzip: Bool?
    }

    var name: String
    /// The issue's difference number the case is about; nil for a plain case.
    var difference: Int?
    var dockerfile: String
    var files: [File]
    var symlinks: [Symlink]?
    var dirs: [String]?
    var tars: [Tar]?
    /// Fields of the recorded docker 20.10 result that current BuildKit's source makes otherwise.
    var currentBuildKit: [String: JSONValue]?

    /// The base image the last stage starts from: its layers and history are not the build's.
    var baseSkip: (layers: Int, history: Int) {
        let froms = dockerfile.split(separator: "\n").filter { $0.uppercased().hasPrefix("FROM ") }
        return froms.last?.split(separator: " ")[1] == "scratch" ? (0, 0) : (1, 1)
    }

    /// Writes the Dockerfile and the context files into the new directory `dir`.
    func makeContext(in dir: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(dockerfile.utf8).write(to: URL(filePath: dir + "/Dockerfile"))
        for d in dirs ?? [] { try fm.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true) }
        for file in files {
            let path = dir + "/" + file.path
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(file.content.utf8).write(to: URL(filePath: path))
            guard let mode = mode_t(file.mode, radix: 8), chmod(path, mode) == 0 else { throw TestFailure("chmod \(path)") }
        }
        for link in symlinks ?? [] {
            let path = dir + "/" + link.path
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: path, withDestinationPath: link.target)
        }
        for tar in tars ?? [] {
            var args = ["--format=gnu", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner"]
            if let transform = tar.transform { args += ["--transform", transform] }
            if tar.gzip == true { args += ["--use-compress-program", "gzip -n"] }
            try run("tar", args + ["-C", dir + "/" + tar.dir, "-cf", dir + "/" + tar.path] + tar.members)
        }
    }
}

/// The recorded data: cases, BuildKit's results (docker 20.10, with current BuildKit's corrections applied) and
/// img's results where they are known to differ.
struct BuildKitReference: Sendable {
    static let directory = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: "BuildKitReference").path

    let cases: [BuildKitCase]
    let docker: String
    let buildkit: [String: JSONValue]
    let knownDifferences: [String: JSONValue]

    static let loaded: Result<BuildKitReference, any Error> = Result { try BuildKitReference() }

    private init() throws {
        struct Cases: Decodable { var cases: [BuildKitCase] }
        struct Recorded: Decodable { var docker: String; var results: [String: JSONValue] }
        struct Differences: Decodable { var results: [String: JSONValue] }
        func read<T: Decodable>(_ name: String, as: T.Type) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(filePath: Self.directory + "/" + name)))
        }
        cases = try read("cases.json", as: Cases.self).cases
        let recorded = try read("buildkit.json", as: Recorded.self)
        docker = recorded.docker
        buildkit = recorded.results
        knownDifferences = try read("img.json", as: Differences.self).results
    }

    /// The case names, for parameterized tests (empty when the data cannot be read: the test then fails on it).
    static var caseNames: [String] { (try? loaded.get().cases.map(\.name)) ?? ["<unreadable Tests/BuildKitReference>"] }

    /// BuildKit's result for `c`: docker 20.10's record with the fields current BuildKit makes otherwise replaced.
    func reference(for c: BuildKitCase) throws -> JSONValue {
        guard case .object(var result)? = buildkit[c.name] else {
            throw TestFailure("no BuildKit result recorded for \(c.name): run scripts/buildkit-reference")
        }
        for (key, value) in c.currentBuildKit ?? [:] where key != "why" { result[key] = value }
        return .object(result)
    }
}

/// The comparison's view of an image archive (`docker save`, `img build -o type=docker`): the config fields
/// that matter, the history entries and each layer's entries, without the base image's layers and history.
/// Layers without entries are dropped and their history entries marked empty, as current BuildKit's exporter
/// does. The same reduction as scripts/buildkit-reference's `normalize`.
enum ImageReduction {
    static let configFields = ["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
                               "StopSignal", "OnBuild", "Shell", "Healthcheck"]

    static func reduce(archive: String, skipLayers: Int, skipHistory: Int) throws -> JSONValue {
        var members: [String: [UInt8]] = [:]
        let outer = try TarReader(path: archive)
        while let entry = try outer.next() {
            if entry.kind == .regular { members[entry.path] = try outer.readAll() }
        }
        func member(_ name: String) throws -> [UInt8] {
            let key = TarEntryPath.normalized(name)
            guard let bytes = members[key] else { throw TestFailure("\(archive) has no \(name)") }
            return bytes
        }
        guard case .array(let manifests) = try JSONDecoder().decode(JSONValue.self, from: Data(try member("manifest.json"))),
              case .string(let configName)? = manifests.first?["Config"],
              case .array(let layerNames)? = manifests.first?["Layers"]
        else { throw TestFailure("\(archive): unexpected manifest.json") }
        let config = try JSONDecoder().decode(JSONValue.self, from: Data(try member(configName)))
        var layers: [[JSONValue]] = []
        for case .string(let name) in layerNames { layers.append(try entries(of: try member(name))) }

        var fields: [String: JSONValue] = [:]
        for key in configFields {
            guard let value = config["config"]?[key] else { continue }
            switch value {
            case .null, .string(""), .array([]), .object([:]): continue
            default: fields[key] = value
            }
        }
        var history: [[String: JSONValue]] = []
        if case .array(let entries)? = config["history"] {
            for h in entries.dropFirst(skipHistory) {
                let createdBy: JSONValue = h["created_by"] ?? .string("")
                history.append(["created_by": createdBy, "empty_layer": .bool(h["empty_layer"] == .bool(true))])
            }
        }
        let own = Array(layers.dropFirst(skipLayers))
        var kept: [[JSONValue]] = [], index = 0
        for i in history.indices where history[i]["empty_layer"] == .bool(false) {
            if index < own.count, own[index].isEmpty { history[i]["empty_layer"] = .bool(true) }
            else if index < own.count { kept.append(own[index]) }
            index += 1
        }
        kept += own.dropFirst(index)
        return .object(["config": .object(fields), "history": .array(history.map { .object($0) }),
                        "layers": .array(kept.map { .array($0) })])
    }

    private static func entries(of layer: [UInt8]) throws -> [JSONValue] {
        let reader = try TarReader(source: MemorySource(layer))
        var out: [(String, JSONValue)] = []
        while let e = try reader.next() {
            let path = e.path.isEmpty ? "." : e.path
            var fields: [String: JSONValue] = [
                "path": .string(path), "type": .string(kindName(e.kind)),
                "mode": .string(String(format: "%04o", e.permissions & 0o7777)),
                "uid": .number(Double(e.uid)), "gid": .number(Double(e.gid)),
            ]
            if e.kind == .regular {
                fields["size"] = .number(Double(e.size))
                fields["digest"] = .string(Digest.sha256(of: try reader.readAll()).description)
            }
            if e.kind == .symlink || e.kind == .hardlink, let target = e.linkTarget { fields["link"] = .string(target) }
            out.append((path, .object(fields)))
        }
        return out.sorted { Array($0.0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.0.unicodeScalars.map(\.value)) }
            .map(\.1)
    }

    private static func kindName(_ kind: TarEntry.Kind) -> String {
        switch kind {
        case .regular: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        case .hardlink: "hardlink"
        case .characterDevice: "char"
        case .blockDevice: "block"
        case .fifo: "fifo"
        }
    }

    /// Where `expected` and `actual` part, one line per difference: config fields, history, and per layer the
    /// entries only one side has.
    static func differences(expected: JSONValue, actual: JSONValue) -> [String] {
        if expected["fails"] != nil || actual["fails"] != nil {
            return expected["fails"] == actual["fails"] ? [] : ["BuildKit: \(expected["fails"] != nil ? "fails (\(expected["log"] ?? .null))" : "builds"); img: \(actual["fails"] != nil ? "fails (\(actual["log"] ?? .null))" : "builds")"]
        }
        var lines: [String] = []
        for key in ["config", "history"] where expected[key] != actual[key] {
            lines.append("\(key): BuildKit \(expected[key] ?? .null)\n        img      \(actual[key] ?? .null)")
        }
        guard case .array(let a)? = expected["layers"], case .array(let b)? = actual["layers"] else { return lines }
        if a.count != b.count { lines.append("layers: BuildKit has \(a.count), img \(b.count)") }
        for (i, (x, y)) in zip(a, b).enumerated() where x != y {
            guard case .array(let xs) = x, case .array(let ys) = y else { continue }
            for e in xs where !ys.contains(e) { lines.append("layer \(i): only BuildKit has \(e)") }
            for e in ys where !xs.contains(e) { lines.append("layer \(i): only img has \(e)") }
        }
        return lines
    }
}

/// Tar member names as TarEntry keeps them (no leading `./` or `/`, no trailing `/`).
enum TarEntryPath {
    static func normalized(_ raw: String) -> String {
        var s = Substring(raw)
        while s.hasPrefix("/") || s.hasPrefix("./") { s = s.hasPrefix("/") ? s.dropFirst() : s.dropFirst(2) }
        while s.hasSuffix("/") { s = s.dropLast() }
        return String(s)
    }
}
