import Foundation
import TestSupport
import Testing

/// The harness every process test stands on: a child's output is read in full whatever it writes.
@Suite struct ChildProcessTests {
    /// The shell writes 1.5 MiB to one pipe (a loop of built-in `printf`s), then `exec`s `head` to
    /// write 1.5 MiB to the other while the first is still open (descriptors 3 and 4 keep both
    /// open). Reading one pipe to its end before the other waits forever once the unread pipe's
    /// 64 KiB buffer is full; the child stays a single process, so the guard can kill it.
    @Test(arguments: [(first: "", second: ">&2"), (first: ">&2", second: "")])
    func moreThanAMebibyteOnBothPipesIsReadFully(first: String, second: String) throws {
        let size = 24 << 16
        let child = try ChildProcess(command: [
            "/bin/sh", "-c",
            """
            exec 3>&1 4>&2; block=$(printf '%65536s' ''); i=0
            while [ $i -lt 24 ]; do printf %s "$block" \(first); i=$((i + 1)); done
            exec head -c \(size) /dev/zero \(second)
            """,
        ])
        let outcome = try #require(Self.wait(for: child, atMost: 60), "the child's output was never read to its end")
        #expect(outcome.status == 0, "\(outcome.stderr.prefix(200))")
        #expect(outcome.stdout.utf8.count == size)
        #expect(outcome.stderr.utf8.count == size)
    }

    /// `child.wait()`, or nil (and the child killed) when it has not returned after `seconds`.
    static func wait(for child: ChildProcess, atMost seconds: Double) -> ChildProcess.Outcome? {
        final class Box: @unchecked Sendable { var outcome: ChildProcess.Outcome? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let pid = child.pid
        Thread {
            box.outcome = child.wait()
            done.signal()
        }.start()
        if done.wait(timeout: .now() + seconds) == .timedOut {
            kill(pid, SIGKILL)
            done.wait()
            return nil
        }
        return box.outcome
    }
}
