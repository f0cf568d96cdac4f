/// The automaton for wildcard `.dockerignore` patterns, anchored at both ends of the path.
///
/// `*` is any run without `/`, `?` one scalar other than `/`, `[...]` a class (which, as upstream, may match
/// `/` when negated or ranged over it), `**` followed by more pattern any run of whole directories
/// (`(.*/)?`), a trailing `**` anything at all. Simulated as a set of states, so a match costs
/// O(pattern × path) with no backtracking; patterns with under 64 states use one machine word.
struct IgnoreGlob: Sendable, Hashable {
    struct ScalarRange: Sendable, Hashable {
        var lo: UInt32
        var hi: UInt32
    }

    struct CharacterClass: Sendable, Hashable {
        var negated: Bool
        var ranges: [ScalarRange]

        func contains(_ c: Unicode.Scalar) -> Bool {
            let v = c.value
            var hit = false
            for r in ranges where r.lo <= v && v <= r.hi {
                hit = true
                break
            }
            return hit != negated
        }
    }

    enum Node: Sendable, Hashable {
        case literal(Unicode.Scalar)
        case one
        case set(CharacterClass)
        case star
        /// `.*` at the very end.
        case rest
        /// Start of `(.*/)?`: may skip it entirely or enter the loop.
        case dirsEntry
        /// Inside `(.*/)?`: any scalar stays; a `/` may also leave.
        case dirsLoop
    }

    let nodes: [Node]
    /// For each state, the states reachable without consuming (itself included), as a bit mask; empty when
    /// the pattern has too many states for one word.
    private let closures: [UInt64]

    init(_ nodes: [Node]) {
        self.nodes = nodes
        var closures: [UInt64] = []
        if nodes.count < 64 {
            closures = [UInt64](repeating: 0, count: nodes.count + 1)
            // Epsilon edges only point forward, so fill from the back.
            for i in stride(from: nodes.count, through: 0, by: -1) {
                var mask = UInt64(1) << UInt64(i)
                if i < nodes.count {
                    switch nodes[i] {
                    case .star, .rest:
                        mask |= closures[i + 1]
                    case .dirsEntry:
                        mask |= closures[i + 1] | closures[i + 2]
                    default:
                        break
                    }
                }
                closures[i] = mask
            }
        }
        self.closures = closures
    }

    private var accept: Int { nodes.count }

    /// The target of state `i` on scalar `c`: (primary target, secondary target), -1 for none.
    @inline(__always)
    private func step(_ i: Int, _ c: Unicode.Scalar) -> (Int, Int) {
        switch nodes[i] {
        case .literal(let l): return (l == c ? i + 1 : -1, -1)
        case .one: return (c != "/" ? i + 1 : -1, -1)
        case .set(let cls): return (cls.contains(c) ? i + 1 : -1, -1)
        case .star: return (c != "/" ? i : -1, -1)
        case .rest: return (i, -1)
        case .dirsEntry: return (-1, -1)
        case .dirsLoop: return (i, c == "/" ? i + 1 : -1)
        }
    }

    /// Runs the automaton over `input`; returns whether it accepts and whether any state is still alive.
    private func run(_ input: some Sequence<Unicode.Scalar>) -> (accepts: Bool, alive: Bool) {
        if !closures.isEmpty {
            var current = closures[0]
            for c in input {
                if current == 0 { return (false, false) }
                var next: UInt64 = 0
                var bits = current
                while bits != 0 {
                    let i = bits.trailingZeroBitCount
                    bits &= bits - 1
                    if i == accept { continue }
                    let (a, b) = step(i, c)
                    if a >= 0 { next |= closures[a] }
                    if b >= 0 { next |= closures[b] }
                }
                current = next
            }
            return (current & (UInt64(1) << UInt64(accept)) != 0, current != 0)
        }
        return runLarge(input)
    }

    /// The same simulation with explicit state lists, for patterns of 64 states or more.
    private func runLarge(_ input: some Sequence<Unicode.Scalar>) -> (accepts: Bool, alive: Bool) {
        var seen = [Int](repeating: -1, count: nodes.count + 1)
        var current: [Int] = []
        var next: [Int] = []
        func add(_ state: Int, _ generation: Int, _ list: inout [Int]) {
            var stack = [state]
            while let s = stack.popLast() {
                if seen[s] == generation { continue }
                seen[s] = generation
                list.append(s)
                guard s < nodes.count else { continue }
                switch nodes[s] {
                case .star, .rest: stack.append(s + 1)
                case .dirsEntry: stack.append(contentsOf: [s + 1, s + 2])
                default: break
                }
            }
        }
        var generation = 0
        add(0, generation, &current)
        for c in input {
            if current.isEmpty { return (false, false) }
            generation += 1
            next.removeAll(keepingCapacity: true)
            for s in current where s < accept {
                let (a, b) = step(s, c)
                if a >= 0 { add(a, generation, &next) }
                if b >= 0 { add(b, generation, &next) }
            }
            swap(&current, &next)
        }
        return (current.contains(accept), !current.isEmpty)
    }

    func matches(_ path: String) -> Bool { run(path.unicodeScalars).accepts }

    /// Whether some continuation of `prefix` could still be accepted.
    func canContinue(after prefix: String) -> Bool { run(prefix.unicodeScalars).alive }
}
