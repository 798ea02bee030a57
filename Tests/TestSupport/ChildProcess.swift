import Foundation

/// Runs the built `projector` binary as a child process, as cron or systemd would.
public struct ChildProcess: Sendable {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the process was ended by a signal (`status` then holds the signal number).
        public var signaled: Bool
    }

    /// The `projector` executable built beside the test bundle.
    public static var projectorPath: String {
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var candidates = [
            URL(fileURLWithPath: selfPath).deletingLastPathComponent().appendingPathComponent("projector").path
        ]
        for argument in CommandLine.arguments.prefix(1) {
            candidates.append(
                URL(fileURLWithPath: argument).deletingLastPathComponent().appendingPathComponent("projector").path)
        }
        var directory = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent(".build/debug/projector").path)
            directory.deleteLastPathComponent()
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// The repository's root (for its `jobs/`).
    public static func repositoryRoot(file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    let process = Process()
    let out = Pipe()
    let err = Pipe()

    /// Starts `projector` with `arguments`; a `launcher` (a command and its arguments) runs it instead.
    public init(
        _ arguments: [String], environment: [String: String] = [:], directory: String? = nil, launcher: [String] = []
    ) throws {
        try self.init(
            command: launcher.isEmpty ? [Self.projectorPath] + arguments : launcher + [Self.projectorPath] + arguments,
            environment: environment, directory: directory)
    }

    /// Starts any program: `command` is its path and its arguments.
    public init(command: [String], environment: [String: String] = [:], directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    public func kill9() { kill(process.processIdentifier, SIGKILL) }

    public var isRunning: Bool { process.isRunning }

    /// Waits for the process to end and collects its output. Both pipes are read at once (stderr on
    /// a thread of its own): a child that fills one pipe while the other is being read to its end
    /// would otherwise block forever.
    public func wait() -> Outcome {
        let stderrReader = PipeReader(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = stderrReader.result()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self), signaled: process.terminationReason == .uncaughtSignal
        )
    }

    /// Runs a shell command and returns its exit status.
    public static func shell(_ command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs as a user without privileges: as `nobody` through `setpriv` when the tests run as root
    /// (root reads and writes through any file permission), as the current user otherwise.
    public static func runUnprivileged(_ arguments: [String]) throws -> Outcome {
        try ChildProcess(arguments, launcher: getuid() == 0 ? unprivilegedLauncher : []).wait()
    }

    static let unprivilegedLauncher = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    /// Whether `runUnprivileged` can start projector: not root, or root with `setpriv` and a
    /// `projector` that `nobody` may execute (a build under a private home directory is not).
    public static var canRunUnprivileged: Bool {
        guard getuid() == 0 else { return true }
        guard FileManager.default.isExecutableFile(atPath: unprivilegedLauncher[0]) else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: unprivilegedLauncher[0])
        probe.arguments = unprivilegedLauncher.dropFirst() + [projectorPath, "--help"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    /// Runs to completion.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try ChildProcess(arguments, environment: environment).wait()
    }
}

/// Reads a pipe to its end on a thread of its own.
final class PipeReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    /// Everything the pipe carried, once its last writer closed it.
    func result() -> Data {
        done.wait()
        return data
    }
}
