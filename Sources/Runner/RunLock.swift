public import Logging
import PostgresClient
import PostgresStore
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
///
/// On PostgreSQL the lock is an advisory lock held by a connection of its own: the server releases
/// it when that connection ends, a `kill -9` included, and `pg_locks` names the backend holding it.
///
/// `@unchecked Sendable`: nothing changes after `init`; the descriptor or the connection is only
/// touched again by `deinit`, which releases the lock.
public final class RunLock: @unchecked Sendable {
    private let fd: Int32
    private let connection: PGConnection?
    public let path: String

    /// Takes the lock as the options ask: at once (75 when held), or, with `--wait` or
    /// `--lock-timeout`, waiting for it. `wait` overrides `--wait` for commands that always wait.
    public convenience init(options: RunOptions, wait: Bool? = nil, logger: Logger) throws(RunError) {
        let waits = wait ?? (options.waitForLock || options.lockTimeout != nil)
        if let conninfo = options.postgresConnection {
            try self.init(
                postgres: conninfo, options: options, wait: waits, timeout: options.lockTimeout,
                shouldStop: options.shouldStop, logger: logger)
        } else {
            try self.init(
                path: options.lockPath, wait: waits, timeout: options.lockTimeout, shouldStop: options.shouldStop,
                logger: logger)
        }
    }

    /// Takes PostgreSQL's advisory lock on a connection of its own, waiting as the file lock does.
    init(
        postgres conninfo: String, options: RunOptions, wait: Bool, timeout: Double?,
        shouldStop: (@Sendable () -> Bool)?, logger: Logger
    ) throws(RunError) {
        try StoreOpening.checkPostgres(conninfo, options: options)
        let keys = try StoreOpening.runnerSchema(options.postgresSchema).runLockKeys
        path = "(the PostgreSQL advisory lock of \(PGConnectionString.redacted(conninfo)))"
        fd = -1
        var lockOptions = PGConnection.Options()
        lockOptions.applicationName = "projector run lock"
        let connection = try StoreOpening.connect(conninfo, options: lockOptions)
        var waiting = LockWait(
            path: path, wait: wait, timeout: timeout, shouldStop: shouldStop, logger: logger, who: "another connection")
        while true {
            let attempt: (taken: Bool, holder: String?)
            do throws(PGError) {
                attempt = try Self.tryAdvisoryLock(keys, on: connection)
            } catch {
                throw StoreOpening.postgresError(error, conninfo: conninfo)
            }
            if attempt.taken { break }
            try waiting.found(heldBy: attempt.holder)
            usleep(100_000)
        }
        self.connection = connection
        waiting.took()
    }

    /// Takes the lock at `path`. When another process holds it: without `wait`, throws `.lockHeld`
    /// at once; with `wait`, logs who holds it and waits, for at most `timeout` seconds when given
    /// (then `.lockHeld` saying how long it waited). `shouldStop` is asked while waiting: a SIGTERM
    /// or SIGINT gives up the wait the same way, so a stopped command never does its work later.
    public init(
        path: String, wait: Bool, timeout: Double? = nil, shouldStop: (@Sendable () -> Bool)? = nil, logger: Logger
    ) throws(RunError) {
        self.path = path
        connection = nil
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
        var waiting = LockWait(
            path: path, wait: wait, timeout: timeout, shouldStop: shouldStop, logger: logger, who: "another process")
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK else {
                close(descriptor)
                throw .lockFailed(path: path, errno: code)
            }
            do throws(RunError) {
                try waiting.found(heldBy: Self.holder(descriptor))
            } catch {
                close(descriptor)
                throw error
            }
            usleep(50_000)
        }
        fd = descriptor
        let record = Array("\(getpid()) \(Int(SystemClock().now()))\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = pwrite(fd, record, record.count, 0)
        }
        waiting.took()
    }

    deinit {
        if let connection {
            // Closing the connection releases its advisory lock.
            connection.close()
            return
        }
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

extension RunLock {
    /// Takes the advisory lock `keys` (the runner schema's) if it is free, else says who holds it
    /// ("backend PID 4242 from 10.0.0.5 (since …)"; nil when it let go meanwhile).
    static func tryAdvisoryLock(
        _ keys: (Int32, Int32), on connection: PGConnection
    ) throws(PGError) -> (taken: Bool, holder: String?) {
        let pair = "\(keys.0), \(keys.1)"
        if try connection.query("SELECT pg_try_advisory_lock(\(pair))").first?.bool(0) == true { return (true, nil) }
        let holder = try connection.query(
            """
            SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid = '\(UInt32(bitPattern: keys.0))'::oid
                AND l.objid = '\(UInt32(bitPattern: keys.1))'::oid AND l.objsubid = 2
            """
        ).first.map { row in
            "backend PID \(row.string(0) ?? "?")\(row.string(1).map { " from \($0)" } ?? "") (since \(row.string(2) ?? "?"))"
        }
        return (false, holder)
    }
}

/// Waiting for a run lock found held, the same for both kinds: give up at once without `wait`,
/// after `timeout`, or when asked to stop; else say once who holds it, and again when it is taken.
struct LockWait {
    let path: String
    let wait: Bool
    let timeout: Double?
    let shouldStop: (@Sendable () -> Bool)?
    let logger: Logger
    /// Who holds the lock when its holder left no name.
    let who: String
    let started = Monotonic.now()
    var announced = false

    /// The lock was found held (by `holder`): throws `.lockHeld` when the wait is over.
    mutating func found(heldBy holder: String?) throws(RunError) {
        let waited = Monotonic.now() - started
        guard wait else { throw .lockHeld(path: path, holder: holder, waited: nil) }
        if let timeout, waited >= timeout { throw .lockHeld(path: path, holder: holder, waited: waited) }
        if shouldStop?() == true {
            logger.notice("stopped while waiting for the run lock, as asked", metadata: ["lock": "\(path)"])
            throw .lockHeld(path: path, holder: holder, waited: waited)
        }
        if !announced {
            announced = true
            logger.notice(
                "waiting for the run lock \(path) held by \(holder ?? who)",
                metadata: ["lock": "\(path)", "timeout": "\(timeout.map { "\($0) s" } ?? "none")"])
        }
    }

    /// The lock was taken.
    func took() {
        guard announced else { return }
        logger.notice(
            "took the run lock", metadata: ["lock": "\(path)", "waited": "\(Int(Monotonic.now() - started)) s"])
    }
}
