#if canImport(Glibc)
    import Glibc
#endif

/// Appends whole lines to a journal with one `write` each on an `O_APPEND` descriptor, so that a
/// reader never sees half a line (SPEC §2). For a directory journal it writes the last segment and
/// starts a new one, named by its global position, once the current one reaches `segmentBytes`.
public final class JournalAppender {
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
    private var segmentStart = 0

    public init(path: String, directory: Bool, segmentBytes: Int = 64 << 20, sync: Sync = .none) throws(JournalError) {
        self.path = path
        self.isDirectory = directory
        self.segmentBytes = segmentBytes
        self.sync = sync
        if directory {
            mkdir(path, 0o755)
            let journal = try Journal(path: path)
            if let last = journal.segments.last {
                segmentStart = last.start
                try openFile(last.path)
            } else {
                segmentStart = 0
                try openFile(path + "/" + Segment.fileName(for: 0))
            }
        } else {
            try openFile(path)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    private func openFile(_ file: String) throws(JournalError) {
        if fd >= 0 { close(fd) }
        fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw .writeFailed(path: file, errno: code, message: String(cString: strerror(code)))
        }
    }

    /// Appends one line; a `\n` is added when missing. Returns the line's global position.
    @discardableResult
    public func append(_ line: [UInt8]) throws(JournalError) -> Int {
        var bytes = line
        if bytes.last != 0x0A { bytes.append(0x0A) }
        if isDirectory { try rollIfNeeded() }
        var info = stat()
        fstat(fd, &info)
        let position = segmentStart + Int(info.st_size)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let code = errno
            throw .writeFailed(path: path, errno: code, message: String(cString: strerror(code)))
        }
        if sync == .always { fdatasync(fd) }
        return position
    }

    /// Appends many complete lines (each ended by `\n`) with a single `write`.
    public func append(lines block: [UInt8]) throws(JournalError) {
        guard !block.isEmpty else { return }
        guard block.last == 0x0A else {
            throw .writeFailed(path: path, errno: EINVAL, message: "a block of lines must end with a newline")
        }
        if isDirectory { try rollIfNeeded() }
        var done = 0
        while done < block.count {
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + done }, $0.count - done) }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw .writeFailed(path: path, errno: code, message: String(cString: strerror(code)))
            }
            done += written
        }
        if sync == .always { fdatasync(fd) }
    }

    @discardableResult
    public func append(_ line: String) throws(JournalError) -> Int {
        try append(Array(line.utf8))
    }

    private func rollIfNeeded() throws(JournalError) {
        var info = stat()
        fstat(fd, &info)
        guard Int(info.st_size) >= segmentBytes else { return }
        segmentStart += Int(info.st_size)
        try openFile(path + "/" + Segment.fileName(for: segmentStart))
    }
}
