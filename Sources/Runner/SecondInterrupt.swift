import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// While a watch stops gracefully after the first SIGINT, a second SIGINT ends the process at once,
/// as it does for a one-shot run (the batch in flight then rolls back, which loses nothing either).
enum SecondInterrupt {
    /// Returns when the calling task is cancelled.
    static func watch() async {
        var seen = 0
        for await _ in await UnixSignalsSequence(trapping: .sigint) {
            seen += 1
            if seen >= 2 { dieOfSIGINT() }
        }
    }

    /// Dies of SIGINT the default way, so the parent sees the signal: the signal is otherwise
    /// blocked for the service group's signal source, so it is unblocked on this thread and sent to it.
    static func dieOfSIGINT() -> Never {
        signal(SIGINT, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(SIGINT)
        _exit(128 + SIGINT)
    }
}
