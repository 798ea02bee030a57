#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive run lock: `flock` on a file beside the database (SPEC §4 step 1). The kernel
/// releases it when the process dies, so a `kill -9` never leaves a stale lock.
public final class RunLock {
    private let fd: Int32
    public let path: String

    public init(path: String, wait: Bool) throws(RunError) {
        self.path = path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            let message = String(cString: strerror(code))
            if code == ENOENT {
                throw .missingPath(what: "the directory of the lock file", path: path)
            }
            if code == EACCES || code == EPERM || code == EROFS {
                let directory = ProjectionRun.directory(of: path)
                throw .notWritable(
                    what: "the lock file", path: path,
                    reason: code == EROFS
                        ? RunError.readOnlyFileSystem(directory)
                        : "\(message); the user running projector needs write access to \(directory) (where the "
                            + "database, its -wal and -shm files and the lock live) and to the lock file if it exists")
            }
            throw .lockFailed(path: path, message: message)
        }
        while flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(descriptor)
            if code == EWOULDBLOCK { throw .lockHeld(path: path) }
            throw .lockFailed(path: path, message: String(cString: strerror(code)))
        }
        fd = descriptor
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
