/// A growable byte buffer that hands out its bytes without a closure (the joined instruction line).
final class LineBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var bytes: Bytes { Bytes(start: base, count: count) }

    func removeAll() { count = 0 }

    func append(_ source: Bytes, _ range: Range<Int>) {
        guard !range.isEmpty, let sourceBase = source.baseAddress else { return }
        if count + range.count > capacity {
            var newCapacity = capacity * 2
            while newCapacity < count + range.count { newCapacity *= 2 }
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.update(from: base, count: count)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
        (base + count).update(from: sourceBase + range.lowerBound, count: range.count)
        count += range.count
    }
}
