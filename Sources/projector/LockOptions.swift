import ArgumentParser
import Runner

/// How long a command waits for the run lock when another process (a `run --watch`, a timer
/// run) holds it. While waiting it says who holds it.
struct LockOptions: ParsableArguments {
    @Option(
        name: .customLong("lock-timeout"),
        help: ArgumentHelp(
            "Wait at most this many seconds for the run lock, then exit 75 (run: implies --wait).",
            valueName: "seconds"))
    var lockTimeout: Double?

    func validate() throws {
        if let lockTimeout, !(lockTimeout >= 0) { throw ValidationError("--lock-timeout must be 0 or more seconds") }
    }

    /// The options with this bound applied.
    func apply(to options: inout RunOptions) {
        options.lockTimeout = lockTimeout
    }
}
