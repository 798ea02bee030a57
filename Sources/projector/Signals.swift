import Foundation
import Synchronization

/// Set by SIGTERM or SIGINT; runs stop after the batch in flight has committed.
let stopRequested = Atomic<Int>(0)

enum Signals {
    /// The first SIGTERM/SIGINT asks for a clean stop; a second SIGINT kills at once (the batch in
    /// flight then rolls back, which loses nothing either). Under `run --watch` the service group
    /// traps both signals once it runs (`RunInvocation`); these handlers cover the start before that.
    static func install() {
        // A parent may have started us with these signals blocked (posix_spawn keeps the mask).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGTERM) { _ in stopRequested.store(1, ordering: .relaxed) }
        signal(SIGINT) { _ in
            stopRequested.store(1, ordering: .relaxed)
            signal(SIGINT, SIG_DFL)
        }
    }

    static var requested: Bool { stopRequested.load(ordering: .relaxed) != 0 }
}
