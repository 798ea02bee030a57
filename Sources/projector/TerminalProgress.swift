import Foundation
import Runner

/// A one-line progress bar on standard error (position, events/s, ETA), only on a terminal.
final class TerminalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var lastDraw = 0.0
    private var drawn = false

    /// A progress reporter when standard error is a terminal and logs are text, else nil.
    static func ifTerminal(logFormat: String) -> TerminalProgress? {
        isatty(STDERR_FILENO) != 0 && !LogSetup.usesJSON(logFormat) ? TerminalProgress() : nil
    }

    func update(_ progress: RunProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince1970
        guard now - lastDraw >= 0.2, progress.end > progress.from else { return }
        lastDraw = now
        drawn = true
        let done = Double(progress.position - progress.from) / Double(progress.end - progress.from)
        let width = 30
        let filled = Int(done * Double(width))
        let rate = progress.seconds > 0 ? Double(progress.events) / progress.seconds : 0
        let eta = done > 0 ? progress.seconds * (1 - done) / done : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(
            format: "\r[%@] %3.0f%%  position %@  %@ events  %@ ev/s  ETA %.0f s ", bar, done * 100,
            Output.count(progress.position), Output.count(progress.events), Output.count(Int(rate)), eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }
}
