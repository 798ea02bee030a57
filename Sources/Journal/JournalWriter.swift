#if canImport(Glibc)
    import Glibc
#endif

/// The writer side of the journal, for APIs written in Swift (SPEC §2): appends whole lines with
/// one `write` each on an `O_APPEND` descriptor, so a reader never sees half a line.
///
/// Several writer processes may append at once: every append holds an exclusive `flock` (on the
/// file itself, or on `.lock` in a segment directory) while it checks for a roll-over and writes,
/// so lines never interleave and no writer appends to a segment after another one rolled past it.
/// A directory journal starts a new segment, named by its global position, once the last one
/// reaches `segmentBytes`.
public final class JournalWriter {
    public enum Sync: Sendable {
        /// Leave flushing to the kernel (a power loss may lose the last lines; a crash of the API does not).
        case none
        /// `fdatasync` after every append.
        case always
    }

    public let path: String
    public let isDirectory: Bool
    public let segmentBytes: Int
    public let sync: Sync
    private var fd: Int32 = -1
    private var lockFD: Int32 = -1
    private var segmentStart = 0

    public init(path: String, directory: Bool, segmentBytes: Int = 64 << 20, sync: Sync = .none) throws(JournalError) {
        self.path = path
        self.isDirectory = directory
        self.segmentBytes = max(1, segmentBytes)
        self.sync = sync
        if directory {
            Self.makeDirectories(path)
            lockFD = open(path + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard lockFD >= 0 else { throw Self.error(path + "/.lock") }
            try locked { () throws(JournalError) in
                let journal = try Journal(path: path)
                if let last = journal.segments.last {
                    segmentStart = last.start
                    try openFile(last.path)
                } else {
                    segmentStart = 0
                    try openFile(path + "/" + Segment.fileName(for: 0))
                }
            }
        } else {
            try openFile(path)
            lockFD = fd
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if isDirectory && lockFD >= 0 { close(lockFD) }
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }

    private func openFile(_ file: String) throws(JournalError) {
        if fd >= 0 { close(fd) }
        fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw Self.error(file) }
    }

    static func error(_ file: String) -> JournalError {
        let code = errno
        return .writeFailed(path: file, errno: code, message: String(cString: strerror(code)))
    }

    private func locked<T>(_ body: () throws(JournalError) -> T) throws(JournalError) -> T {
        while flock(lockFD, LOCK_EX) != 0 {
            if errno != EINTR { throw Self.error(path) }
        }
        defer { flock(lockFD, LOCK_UN) }
        return try body()
    }

    /// Appends one line; a `\n` is added when missing. Returns the line's global position.
    @discardableResult
    public func append(_ line: [UInt8]) throws(JournalError) -> Int {
        var bytes = line
        if bytes.last != 0x0A { bytes.append(0x0A) }
        return try write(bytes)
    }

    @discardableResult
    public func append(_ line: String) throws(JournalError) -> Int {
        try append(Array(line.utf8))
    }

    /// Appends many complete lines (each ended by `\n`) with a single `write`; returns the global
    /// position of the first.
    @discardableResult
    public func append(lines block: [UInt8]) throws(JournalError) -> Int {
        guard !block.isEmpty else { return segmentStart }
        guard block.last == 0x0A else {
            throw .writeFailed(path: path, errno: EINVAL, message: "a block of lines must end with a newline")
        }
        return try write(block)
    }

    private func write(_ bytes: [UInt8]) throws(JournalError) -> Int {
        try locked { () throws(JournalError) in
            if isDirectory { try followRollOver() }
            var info = stat()
            fstat(fd, &info)
            let position = segmentStart + Int(info.st_size)
            var done = 0
            while done < bytes.count {
                let written = bytes.withUnsafeBytes {
                    Glibc.write(fd, $0.baseAddress.map { $0 + done }, $0.count - done)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw Self.error(path)
                }
                done += written
            }
            if sync == .always { fdatasync(fd) }
            return position
        }
    }

    /// Under the lock: moves to the segment after ours when another writer rolled over, and rolls
    /// over ourselves when the last segment is full. A segment never grows after the next one exists.
    private func followRollOver() throws(JournalError) {
        while true {
            var info = stat()
            fstat(fd, &info)
            let size = Int(info.st_size)
            guard size >= segmentBytes else { return }
            segmentStart += size
            let next = path + "/" + Segment.fileName(for: segmentStart)
            try openFile(next)
        }
    }
}
