import ArgumentParser
import Foundation
import Runner
import Synchronization

/// The throwaway PostgreSQL server of `projector demo --postgres`: `scripts/postgres-cluster start`
/// in a new directory under /tmp (initdb as a non-root user, loopback only, a free port, its socket
/// in that directory), stopped and removed by `stop()`.
final class DemoPostgresCluster: Sendable {
    let script: String
    let directory: String
    let startedPort = Mutex<String?>(nil)
    /// Signalled once `start()` has returned: a signal's stop waits for it, or the server a start
    /// still in progress brings up would outlive the process.
    let startFinished = DispatchSemaphore(value: 0)

    /// A cluster that `start()` brings up with `script` (the repository's `scripts/postgres-cluster`).
    init(script: String) throws {
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw RunError.missingPath(
                what: "the script that starts a throwaway PostgreSQL server (run the demo from the repository)",
                path: script)
        }
        self.script = script
        // Under /tmp: the server's user must reach it, and a unix socket's path must stay short.
        directory = "/tmp/projector-demo-postgres-" + UUID().uuidString.prefix(8).lowercased()
    }

    /// Starts the server; on failure, removes what the script left and throws.
    func start() throws {
        defer { startFinished.signal() }
        let started = try Self.runScript(script, ["start", directory])
        guard started.status == 0 else {
            _ = try? Self.runScript(script, ["stop", directory])
            let reason = started.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            // 69: no PostgreSQL server installed (scripts/setup installs one).
            if started.status == 69 { throw RunError.configuration(reason) }
            FileHandle.standardError.write(
                Data(
                    "projector: the throwaway PostgreSQL server did not start (\(script) exited with \(started.status)): \(reason)\n"
                        .utf8))
            throw ExitCode(ExitStatus.unexpected)
        }
        let portLine = started.stdout.split(separator: "\n").first { $0.hasPrefix("PGPORT=") }
        startedPort.withLock { $0 = String(portLine?.dropFirst("PGPORT=".count) ?? "") }
    }

    /// The server's port, once started.
    var port: String { startedPort.withLock { $0 ?? "" } }

    /// A connection string for `database` on this server as the role `projector`, independent of
    /// the environment's PG* settings (its password is in the cluster's password file).
    func conninfo(database: String = "projector") -> String {
        "host=127.0.0.1 port=\(port) user=projector dbname=\(database) passfile=\(directory)/pgpass"
    }

    /// Until the sources are cancelled, SIGINT and SIGTERM stop the server (once a start in
    /// progress has returned) and end the process (128 + the signal's number): the demo's work is
    /// synchronous and has nothing to finish, and the server must not outlive it. Call it before
    /// `start()`.
    func stopOnSignals() -> [any DispatchSourceSignal] {
        // A parent may have started us with these signals blocked (posix_spawn keeps the mask).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                startFinished.wait()
                stop()
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    /// Stops the server and removes its directory (nothing when it was never started).
    func stop() {
        _ = try? Self.runScript(script, ["stop", directory])
    }

    static func runScript(_ script: String, _ arguments: [String]) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The script's output is a few lines: reading one pipe to its end cannot block the other.
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complained = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: printed, as: UTF8.self),
            String(decoding: complained, as: UTF8.self)
        )
    }
}
