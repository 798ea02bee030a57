#if canImport(Glibc)
    import Glibc
#endif

/// One item read from the journal.
package enum JournalItem {
    /// A complete line, without its `\n` (or `\r\n`). The bytes are valid until the next call to `next()`.
    case line(position: Int, length: Int, bytes: UnsafeRawBufferPointer)
    /// A complete line longer than the maximum: skipped without holding it in memory.
    case oversized(position: Int, length: Int, excerpt: [UInt8])
    /// A segment that ends without a final newline although a later segment exists: its last
    /// line will never be completed.
    case unterminated(position: Int, length: Int, segment: String, excerpt: [UInt8])

    package var position: Int {
        switch self {
        case .line(let p, _, _), .oversized(let p, _, _), .unterminated(let p, _, _, _): return p
        }
    }

    /// Bytes the item occupies in the journal, line ending included.
    package var length: Int {
        switch self {
        case .line(_, let n, _), .oversized(_, let n, _), .unterminated(_, let n, _, _): return n
        }
    }
}

/// Reads complete lines sequentially from a position, with memory bounded by the maximum line
/// length plus one read block, whatever the journal's size.
///
/// A line is handed out as a view of the cursor's read buffer, so this package's code reads the
/// journal without copying each line; outside the package, `Journal.read(from:to:)` returns bytes.
package final class JournalCursor {
    package static let excerptBytes = 200
    static let blockSize = 1 << 20

    let journal: Journal
    let limit: Int
    package let maxLineBytes: Int
    /// Global position of the next unread line.
    package private(set) var position: Int

    private var segmentIndex: Int
    private var fd: Int32 = -1
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    /// Buffer holds bytes `[head, tail)`; `head` corresponds to global `position`.
    private var head = 0
    private var tail = 0
    /// Global position of buffer byte `tail` (how far the current segment has been read).
    private var readPosition: Int

    init(journal: Journal, from position: Int, limit: Int, maxLineBytes: Int) throws(JournalError) {
        self.journal = journal
        self.limit = limit
        self.maxLineBytes = maxLineBytes
        self.position = position
        self.readPosition = position
        self.capacity = maxLineBytes + 2 + Self.blockSize
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        if let index = journal.segments.firstIndex(where: { position >= $0.start && position < $0.end }) {
            segmentIndex = index
        } else {
            segmentIndex = journal.segments.count  // at or past the end: nothing to read
        }
        if position < journal.start {
            buffer.deallocate()
            throw .inconsistentSegments(
                path: journal.path,
                detail: "position \(position) is before the first segment still present (\(journal.start))"
            )
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        buffer.deallocate()
    }

    /// The next complete line, or nil when no complete line remains before the snapshot's end.
    package func next() throws(JournalError) -> JournalItem? {
        while segmentIndex < journal.segments.count {
            let segment = journal.segments[segmentIndex]
            let segmentLimit = min(segment.end, limit)
            if fd < 0 {
                fd = open(segment.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw Journal.readError(segment.path) }
                head = 0
                tail = 0
                readPosition = position
            }
            // A complete line already in the buffer?
            if tail > head, let newline = memchr(buffer + head, 0x0A, tail - head) {
                let lineStart = buffer + head
                let total = (newline - lineStart) + 1
                var length = total - 1
                if length > 0, lineStart.load(fromByteOffset: length - 1, as: UInt8.self) == 0x0D { length -= 1 }
                let itemPosition = position
                head += total
                position += total
                if length > maxLineBytes {
                    return .oversized(position: itemPosition, length: total, excerpt: excerpt(lineStart, length))
                }
                return .line(
                    position: itemPosition, length: total,
                    bytes: UnsafeRawBufferPointer(start: lineStart, count: length)
                )
            }
            // No newline in the buffer: an over-long line is skipped without keeping it.
            if tail - head > maxLineBytes + 1 {
                return try skipOversized(segment: segment, segmentLimit: segmentLimit)
            }
            // Read more of this segment.
            if readPosition < segmentLimit {
                if head > 0 {
                    memmove(buffer, buffer + head, tail - head)
                    tail -= head
                    head = 0
                }
                let want = min(capacity - tail, segmentLimit - readPosition)
                let n = try readBlock(into: buffer + tail, count: want, at: readPosition - segment.start, segment)
                if n > 0 {
                    tail += n
                    readPosition += n
                    continue
                }
            }
            // End of this segment's readable bytes.
            let leftover = tail - head
            let isLast = segmentIndex == journal.segments.count - 1 || segment.end >= limit
            if leftover > 0 {
                if isLast { return nil }  // a torn tail: the writer has not finished it yet
                let item = JournalItem.unterminated(
                    position: position, length: leftover, segment: Journal.name(segment),
                    excerpt: excerpt(buffer + head, leftover)
                )
                position += leftover
                advanceSegment()
                return item
            }
            if isLast { return nil }
            advanceSegment()
        }
        return nil
    }

    private func advanceSegment() {
        if fd >= 0 { close(fd) }
        fd = -1
        segmentIndex += 1
        head = 0
        tail = 0
    }

    /// Consumes an over-long line up to its newline, keeping only its excerpt.
    private func skipOversized(segment: Segment, segmentLimit: Int) throws(JournalError) -> JournalItem? {
        let start = position
        let kept = excerpt(buffer + head, tail - head)
        var skipped = tail - head
        head = 0
        tail = 0
        while readPosition < segmentLimit {
            let want = min(capacity, segmentLimit - readPosition)
            let n = try readBlock(into: buffer, count: want, at: readPosition - segment.start, segment)
            if n == 0 { break }
            readPosition += n
            if let newline = memchr(buffer, 0x0A, n) {
                let used = (newline - buffer) + 1
                skipped += used
                head = used
                tail = n
                position = start + skipped
                return .oversized(position: start, length: skipped, excerpt: kept)
            }
            skipped += n
        }
        // No newline before the end of the segment.
        let isLast = segmentIndex == journal.segments.count - 1 || segment.end >= limit
        if isLast {
            // Not yet complete: leave it for a later run, re-reading from its start.
            position = start
            segmentIndex = journal.segments.count
            return nil
        }
        position = start + skipped
        advanceSegment()
        return .unterminated(position: start, length: skipped, segment: Journal.name(segment), excerpt: kept)
    }

    private func readBlock(
        into destination: UnsafeMutableRawPointer, count: Int, at offset: Int, _ segment: Segment
    ) throws(JournalError) -> Int {
        while true {
            let n = pread(fd, destination, count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw Journal.readError(segment.path)
        }
    }

    private func excerpt(_ start: UnsafeRawPointer, _ length: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: start, count: min(length, Self.excerptBytes)))
    }
}
