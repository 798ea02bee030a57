public import Logging
import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive run lock: `flock` on a file beside the database (SPEC §4 step 1). The kernel
/// releases it when the process dies, so a `kill -9` never leaves a stale lock.
///
/// The holder writes its PID and the time it took the lock into the file, so a command that
/// finds the lock taken can say who holds it ("held by PID 4242 since …") instead of waiting
/// in silence; the file is emptied again before the lock is released.
public final class RunLock: Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock as the options ask: at once (75 when held), or, with `--wait` or
    /// `--lock-timeout`, waiting for it. `wait` overrides `--wait` for commands that always wait.
    public convenience init(options: RunOptions, wait: Bool? = nil, logger: Logger) throws(RunError) {
        try self.init(
            path: options.lockPath, wait: wait ?? (options.waitForLock || options.lockTimeout != nil),
            timeout: options.lockTimeout, shouldStop: options.shouldStop, logger: logger)
    }

    /// Takes the lock at `path`. When another process holds it: without `wait`, throws `.lockHeld`
    /// at once; with `wait`, logs who holds it and waits, for at most `timeout` seconds when given
    /// (then `.lockHeld` saying how long it waited). `shouldStop` is asked while waiting: a SIGTERM
    /// or SIGINT gives up the wait the same way, so a stopped command never does its work later.
    public init(
        path: String, wait: Bool, timeout: Double? = nil, shouldStop: (@Sendable () -> Bool)? = nil, logger: Logger
    ) throws(RunError) {
        self.path = path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            let message = String(cString: strerror(code))
            if code == ENOENT {
                throw .missingPath(what: "the directory of the lock file", path: path)
            }
            if code == EACCES || code == EPERM || code == EROFS {
                let directory = FileSystem.directory(of: path)
                throw .notWritable(
                    what: "the lock file", path: path,
                    reason: code == EROFS
                        ? RunError.readOnlyFileSystem(directory)
                        : "\(message); the user running projector needs write access to \(directory) (where the "
                            + "database, its -wal and -shm files and the lock live) and to the lock file if it exists")
            }
            throw .lockFailed(path: path, errno: code)
        }
        let started = Monotonic.now()
        var announced = false
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK else {
                close(descriptor)
                throw .lockFailed(path: path, errno: code)
            }
            let holder = Self.holder(descriptor)
            let waited = Monotonic.now() - started
            guard wait else {
                close(descriptor)
                throw .lockHeld(path: path, holder: holder, waited: nil)
            }
            if let timeout, waited >= timeout {
                close(descriptor)
                throw .lockHeld(path: path, holder: holder, waited: waited)
            }
            if shouldStop?() == true {
                close(descriptor)
                logger.notice("stopped while waiting for the run lock, as asked", metadata: ["lock": "\(path)"])
                throw .lockHeld(path: path, holder: holder, waited: waited)
            }
            if !announced {
                announced = true
                logger.notice(
                    "waiting for the run lock \(path) held by \(holder ?? "another process")",
                    metadata: ["lock": "\(path)", "timeout": "\(timeout.map { "\($0) s" } ?? "none")"])
            }
            usleep(50_000)
        }
        fd = descriptor
        let record = Array("\(getpid()) \(Int(SystemClock().now()))\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = pwrite(fd, record, record.count, 0)
        }
        if announced {
            logger.notice(
                "took the run lock", metadata: ["lock": "\(path)", "waited": "\(Int(Monotonic.now() - started)) s"])
        }
    }

    deinit {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// "PID 4242 (since 2026-11-27T08:00:00.000Z)" from the holder's record, nil when it left none.
    static func holder(_ descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }
        )
        guard let pid = fields.first.flatMap({ Int32($0) }), pid > 0 else { return nil }
        let since = fields.dropFirst().first.flatMap { Double($0) }.map { " (since \(RFC3339.format($0)))" } ?? ""
        return "PID \(pid)\(since)"
    }
}
