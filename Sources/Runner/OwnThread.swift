import Foundation

/// Runs blocking work (SQLite, `flock`, libcurl) on a thread of its own and awaits it, so the
/// cooperative pool stays free to notice a graceful shutdown meanwhile.
enum OwnThread {
    static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
