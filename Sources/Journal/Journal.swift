import Foundation
import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// An event journal on disk: a single JSON Lines file, or a directory of segments named by the
/// global position of their first byte (SPEC §2). A value is a snapshot of the segments and sizes
/// at the moment it was opened.
public struct Journal: Sendable {
    public let path: String
    public let isDirectory: Bool
    public let segments: [Segment]

    /// Lists the journal's files. Throws `.notFound` when the path does not exist, `.unreadable`
    /// when it cannot be looked at (a directory on the way denies search permission), and
    /// `.inconsistentSegments` when segments do not follow each other.
    public init(path: String) throws(JournalError) {
        self.path = path
        let (isDirectory, found) = try Self.files(at: path)
        self.isDirectory = isDirectory
        if let detail = Self.inconsistency(in: found) {
            throw .inconsistentSegments(path: path, detail: detail)
        }
        segments = found
    }

    /// The journal's files in position order, without checking that they follow each other (to
    /// report on a journal that `init` refuses).
    public static func files(at path: String) throws(JournalError) -> (isDirectory: Bool, segments: [Segment]) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .notFound(path: path) }
            throw .unreadable(path: path, errno: code, message: String(cString: strerror(code)))
        }
        if info.st_mode & S_IFMT != S_IFDIR {
            return (false, [Segment(start: 0, path: path, size: try Self.size(of: path))])
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .unreadable(path: path, errno: EACCES, message: "cannot list the directory")
        }
        var found: [Segment] = []
        for name in names {
            guard let start = Segment.position(fromFileName: name) else { continue }
            let file = path + "/" + name
            found.append(Segment(start: start, path: file, size: try Self.size(of: file)))
        }
        found.sort { $0.start < $1.start }
        return (true, found)
    }

    /// Where consecutive segments do not meet (bytes missing or overlapping), described; nil when
    /// they follow each other.
    public static func inconsistency(in segments: [Segment]) -> String? {
        for (a, b) in zip(segments, segments.dropFirst()) where a.end != b.start {
            let what = a.end < b.start ? "bytes \(a.end)..<\(b.start) are missing" : "it overlaps the next segment"
            return "segment \(Self.name(a)) ends at \(a.end) but the next one starts at \(b.start): \(what)"
        }
        return nil
    }

    /// The global position just past the last byte of the journal.
    public var end: Int { segments.last?.end ?? 0 }

    /// The first position still present (segments before it were pruned).
    public var start: Int { segments.first?.start ?? 0 }

    /// The segment holding `position`; a position at the very end belongs to the last segment.
    public func segment(containing position: Int) -> Segment? {
        var low = 0
        var high = segments.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let s = segments[mid]
            if position < s.start {
                high = mid - 1
            } else if position >= s.end {
                if mid == segments.count - 1 && position == s.end { return s }
                low = mid + 1
            } else {
                return s
            }
        }
        return nil
    }

    /// Opens a cursor reading complete lines from `position` up to the end of this snapshot.
    package func cursor(
        from position: Int, limit: Int? = nil, maxLineBytes: Int = 1 << 20
    ) throws(JournalError) -> JournalCursor {
        try JournalCursor(journal: self, from: position, limit: min(limit ?? end, end), maxLineBytes: maxLineBytes)
    }

    /// Reads the bytes `start..<end` of one segment, or nil when they are no longer all there.
    public func read(from start: Int, to end: Int) throws(JournalError) -> [UInt8]? {
        guard end >= start, let segment = segment(containing: start), end <= segment.end else { return nil }
        let fd = open(segment.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.readError(segment.path) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: end - start)
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { buffer in
                pread(
                    fd, buffer.baseAddress.map { $0 + done }, buffer.count - done, off_t(start - segment.start + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.readError(segment.path)
            }
            if n == 0 { return nil }
            done += n
        }
        return out
    }

    /// Counts complete lines between two positions (for lag in `status`), reading in large blocks.
    public func countLines(from position: Int) throws(JournalError) -> Int {
        var total = 0
        for segment in segments where segment.end > position {
            let fd = open(segment.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Self.readError(segment.path) }
            defer { close(fd) }
            var offset = max(0, position - segment.start)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = pread(fd, buffer, 1 << 20, off_t(offset))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.readError(segment.path)
                }
                if n == 0 { break }
                var p = buffer
                let stop = buffer + n
                while p < stop, let hit = memchr(p, 0x0A, stop - p) {
                    total += 1
                    p = hit + 1
                }
                offset += n
            }
        }
        return total
    }

    static func size(of path: String) throws(JournalError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw .notFound(path: path) }
            throw readError(path)
        }
        return Int(info.st_size)
    }

    static func readError(_ path: String) -> JournalError {
        let code = errno
        return .unreadable(path: path, errno: code, message: String(cString: strerror(code)))
    }

    static func name(_ segment: Segment) -> String {
        segment.path.split(separator: "/").last.map(String.init) ?? segment.path
    }
}

extension Journal {
    /// The position just past the last complete line (a torn tail, still being written, is excluded).
    public func lastLineBoundary() throws(JournalError) -> Int {
        guard let segment = segments.last, segment.size > 0 else { return end }
        let block = 64 << 10
        var upper = segment.end
        while upper > segment.start {
            let lower = max(segment.start, upper - block)
            guard let bytes = try read(from: lower, to: upper) else { return segment.start }
            if let index = bytes.lastIndex(of: 0x0A) { return lower + index + 1 }
            upper = lower
        }
        return segment.start
    }
}
