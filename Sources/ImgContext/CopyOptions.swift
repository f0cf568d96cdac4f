import ImgSystem

/// How a COPY/ADD writes what it selected.
package struct CopyOptions: Sendable, Hashable {
    /// `--chown user[:group]`: names resolved in the destination rootfs's `/etc/passwd` and `/etc/group`.
    package var chown: String?
    /// `--chmod`: octal (`0755`) or symbolic (`u=rwX,go=rX`, `+x`, `g=u`) as BuildKit accepts.
    package var chmod: String?
    /// ADD: a local tar archive (any of tar, gzip, bzip2, xz, zstd) is extracted into the destination.
    package var isAdd: Bool
    package var parents: Bool
    /// `--link`: the caller copies into an empty rootfs; nothing differs here (names in `--chown` then
    /// need numeric ids, as docker documents).
    package var link: Bool

    package init(chown: String? = nil, chmod: String? = nil, isAdd: Bool = false, parents: Bool = false, link: Bool = false) {
        self.chown = chown
        self.chmod = chmod
        self.isAdd = isAdd
        self.parents = parents
        self.link = link
    }
}

/// Numeric owner of what is written.
package struct FileOwner: Sendable, Hashable {
    package var uid: UInt32
    package var gid: UInt32

    package init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    package static let root = FileOwner(uid: 0, gid: 0)

    /// Resolves `--chown` as BuildKit does: a number alone gives that number for both ids; a user name gives
    /// its passwd uid and primary gid; a group part, name or number, sets the gid. Names must exist in the
    /// rootfs's files (read inside the rootfs, symlinks included).
    package static func resolve(_ spec: String, rootfs: String) throws(ContextError) -> FileOwner {
        if !spec.contains(":"), let id = UInt32(spec) { return FileOwner(uid: id, gid: id) }
        do throws(UserLookupError) {
            let user = try ContainerUser.resolve(spec, rootfs: rootfs)
            return FileOwner(uid: user.uid, gid: user.gid)
        } catch {
            throw ContextError(.invalidOption, "invalid --chown=\(spec): \(error.message)")
        }
    }
}

/// `--chmod`: an octal mode that replaces the permission bits, or chmod(1) symbolic clauses applied to
/// each file's own mode (no umask, as BuildKit applies them).
package struct ModeChange: Sendable, Hashable {
    enum Operator: Sendable, Hashable { case add, remove, set }
    enum Source: Sendable, Hashable {
        /// Letters among r w x X s t.
        case letters(read: Bool, write: Bool, execute: Bool, conditionalExecute: Bool, special: Bool, sticky: Bool)
        /// Copy of another class's current bits (`g=u`).
        case copy(shift: UInt32)
    }
    struct Action: Sendable, Hashable {
        var op: Operator
        var source: Source
    }
    struct Clause: Sendable, Hashable {
        /// Which classes (u, g, o as 0o700/0o070/0o007, with their special bits) the clause touches.
        var who: UInt32
        var actions: [Action]
    }

    enum Form: Sendable, Hashable {
        case octal(UInt32)
        case symbolic([Clause])
    }

    let form: Form
    package let text: String

    package init(parsing text: String) throws(ContextError) {
        self.text = text
        if !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x37).contains($0) }) {
            guard let value = UInt32(text, radix: 8), value <= 0o7777 else {
                throw ContextError(.invalidOption, "invalid --chmod=\(text): mode out of range")
            }
            form = .octal(value)
            return
        }
        var clauses: [Clause] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let clause = Self.clause(part) else {
                throw ContextError(.invalidOption, "invalid --chmod=\(text): expected octal digits or symbolic mode like u=rwX,go=rX")
            }
            clauses.append(clause)
        }
        form = .symbolic(clauses)
    }

    private static func clause(_ text: Substring) -> Clause? {
        var chars = Array(text.unicodeScalars)[...]
        var who: UInt32 = 0
        while let c = chars.first, "ugoa".unicodeScalars.contains(c) {
            switch c {
            case "u": who |= 0o4700
            case "g": who |= 0o2070
            case "o": who |= 0o1007
            default: who |= 0o7777
            }
            chars.removeFirst()
        }
        if who == 0 { who = 0o7777 }
        var actions: [Action] = []
        while let c = chars.first {
            let op: Operator
            switch c {
            case "+": op = .add
            case "-": op = .remove
            case "=": op = .set
            default: return nil
            }
            chars.removeFirst()
            if let c = chars.first, "ugo".unicodeScalars.contains(c) {
                chars.removeFirst()
                actions.append(Action(op: op, source: .copy(shift: c == "u" ? 6 : c == "g" ? 3 : 0)))
                continue
            }
            var r = false, w = false, x = false, cx = false, s = false, t = false
            while let c = chars.first, "rwxXst".unicodeScalars.contains(c) {
                switch c {
                case "r": r = true
                case "w": w = true
                case "x": x = true
                case "X": cx = true
                case "s": s = true
                default: t = true
                }
                chars.removeFirst()
            }
            actions.append(Action(op: op, source: .letters(read: r, write: w, execute: x, conditionalExecute: cx,
                                                           special: s, sticky: t)))
        }
        return actions.isEmpty ? nil : Clause(who: who, actions: actions)
    }

    /// The permission bits (`0o7777`) a file or directory with `mode` gets.
    package func apply(to mode: UInt32, isDirectory: Bool) -> UInt32 {
        switch form {
        case .octal(let value):
            return value
        case .symbolic(let clauses):
            var current = mode & 0o7777
            for clause in clauses {
                for action in clause.actions {
                    var bits: UInt32
                    switch action.source {
                    case .copy(let shift):
                        let v = (current >> shift) & 0o7
                        bits = v << 6 | v << 3 | v
                    case let .letters(r, w, x, cx, s, t):
                        bits = 0
                        if r { bits |= 0o444 }
                        if w { bits |= 0o222 }
                        if x || (cx && (isDirectory || current & 0o111 != 0)) { bits |= 0o111 }
                        if s { bits |= 0o6000 }
                        if t { bits |= 0o1000 }
                    }
                    bits &= clause.who
                    switch action.op {
                    case .add: current |= bits
                    case .remove: current &= ~bits
                    case .set: current = (current & ~(clause.who & 0o777)) | bits
                    }
                }
            }
            return current
        }
    }
}
