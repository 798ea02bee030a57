import Foundation

/// Runs the built `projector` binary as a child process, as cron or systemd would.
public struct ChildProcess {
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

    public init(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: Self.projectorPath)
        process.arguments = arguments
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

    /// Waits for the process to end and collects its output.
    public func wait() -> Outcome {
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
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

    /// Runs to completion.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try ChildProcess(arguments, environment: environment).wait()
    }
}
