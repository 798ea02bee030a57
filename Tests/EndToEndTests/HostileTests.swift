import Foundation
import Journal
import QaHubDemo
import SQLiteStore
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct HostileTests {
    /// A job whose SQL fails for every key: every key is a recorded failure, the run exits 65,
    /// and once the job is fixed every key is applied.
    @Test func aJobFailingForEveryKeyLosesNothing() throws {
        let w = try Workspace(
            job: """
                -- on: PING key: aggregateId
                -- @setup
                CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n < 0));
                -- @refresh
                INSERT INTO counts(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
                """)
        try w.append(700)
        let first = try w.run()
        #expect(first.status == 65)
        let db = try Database(path: w.dir.file("p.db"))
        #expect(try db.rows("SELECT count(*) FROM projector_failures")[0][0].int == 7)
        #expect(try db.rows("SELECT count(*) FROM counts")[0][0].int == 0)
        // Fixed: the table accepts the rows; the operator asks for a retry.
        try db.execute("DROP TABLE counts; CREATE TABLE counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        #expect(try ChildProcess.run(["failures", "retry", "--all"] + w.flags).status == 0)
        #expect(try w.run().status == 0)
        #expect(try db.rows("SELECT count(*) FROM counts")[0][0].int == 7)
        #expect(try db.rows("SELECT count(*) FROM projector_failures")[0][0].int == 0)
    }

    /// A 100 MB line is rejected without being held in memory.
    @Test func aHundredMegabyteLineIsRejectedInBoundedMemory() throws {
        let w = try Workspace()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: w.dir.file("journal.jsonl")))
        try handle.write(contentsOf: Data(#"{"type":"PING","aggregateType":"t","aggregateId":"big","data":""#.utf8))
        let block = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<100 { try handle.write(contentsOf: block) }
        try handle.write(contentsOf: Data("\"}\n".utf8))
        try handle.close()
        try w.append(1)
        let outcome = try w.run(["--json"])
        #expect(outcome.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        #expect(report?["rejects"] as? Int == 1)
        #expect(report?["events"] as? Int == 1)
        let peak = report?["peakMemoryBytes"] as? Int ?? .max
        // A sanitizer's shadow memory and quarantine make RSS meaningless (scripts/sanitize says so).
        let bound = ProcessInfo.processInfo.environment["PROJECTOR_UNDER_SANITIZER"] == nil ? 80 << 20 : Int.max
        #expect(peak < bound, "peak RSS \(peak >> 20) MiB for a 100 MB line")
        let db = try Database(path: w.dir.file("p.db"))
        let reject = try db.rows("SELECT code, length FROM projector_rejects")[0]
        #expect(reject[0].string == "too_long")
        #expect((reject[1].int ?? 0) > 100 << 20)
    }

    /// The reported peak memory is the run's own, not its parent's: `ru_maxrss` survives exec, so a
    /// child of a large process (a test runner, a supervisor) would otherwise report the parent's.
    @Test func thePeakMemoryReportedIsTheRunsOwnNotItsParents() throws {
        let w = try Workspace()
        try w.append(10)
        // This process grows to 300 MiB (touched), then starts the run.
        let size = 300 << 20
        let ballast = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { ballast.deallocate() }
        memset(ballast, 1, size)
        let outcome = try w.run(["--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        let peak = report?["peakMemoryBytes"] as? Int ?? .max
        #expect(peak < 200 << 20, "peak RSS \(peak >> 20) MiB reported for a 10-event run")
        #expect(peak > 1 << 20)
    }

    /// SIGTERM in the middle of a run: the batch in flight commits, the run stops with 0, and the
    /// next run finishes the work exactly once.
    @Test func sigtermDuringARunStopsCleanly() throws {
        let w = try Workspace()
        try w.append(30_000)
        let child = try ChildProcess(["run", "--batch-events", "100"] + w.flags)
        // Wait until batches are committing (a slow start, e.g. under a sanitizer, must not
        // turn this into a kill before the handlers are installed).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let committed =
                (try? Database(path: w.dir.file("p.db")).rows(
                    "SELECT count(*) FROM projector_checkpoints"))?.first?.first?.int ?? 0
            if committed > 0 { break }
            usleep(20_000)
        }
        kill(child.pid, SIGTERM)
        let outcome = child.wait()
        #expect(!outcome.signaled)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("stopped at position"))
        #expect(try w.run().status == 0)
        let db = try Database(path: w.dir.file("p.db"))
        #expect(try db.rows("SELECT sum(n) FROM counts")[0][0].int == 30_000)
    }

    /// The disk fills up while committing: the run fails with a clear message and commits
    /// nothing partial; with room again, the next run applies every event exactly once.
    @Test(
        .enabled(if: getuid() == 0, "needs root to mount a small tmpfs"),
        .enabled(if: canMountNamespaces, "needs the right to mount (a container without CAP_SYS_ADMIN has not)"))
    func aFullDiskLosesNothing() throws {
        let w = try Workspace(
            job: """
                -- on: PING key: aggregateId
                -- @setup
                CREATE TABLE IF NOT EXISTS rows(id TEXT PRIMARY KEY, pad TEXT NOT NULL);
                -- @apply
                INSERT INTO rows(id, pad) VALUES(:id, printf('%.2000c', 'x'));
                """)
        try w.append(4000)
        let mountPoint = w.dir.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try ChildProcess.shell("mount -t tmpfs -o size=2m tmpfs \(mountPoint)")
        #expect(mount == 0, "cannot mount a tmpfs")
        guard mount == 0 else { return }
        defer { _ = try? ChildProcess.shell("umount \(mountPoint)") }
        let flags = [
            "--database", mountPoint + "/p.db", "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
            w.dir.file("jobs"),
        ]
        let full = try ChildProcess.run(["run"] + flags)
        #expect(full.status == 1)
        #expect(full.stderr.contains("disk is full"), "\(full.stderr)")
        #expect(try ChildProcess.shell("mount -o remount,size=64m \(mountPoint)") == 0)
        let again = try ChildProcess.run(["run"] + flags)
        #expect(again.status == 0, "\(again.stderr)")
        let db = try Database(path: mountPoint + "/p.db")
        #expect(try db.rows("SELECT count(*) FROM rows")[0][0].int == 4000)
    }

    /// A segment that cannot be read (here a directory where a file should be): a clear error,
    /// nothing committed.
    @Test func anUnreadableJournalIsAClearError() throws {
        let w = try Workspace()
        try FileManager.default.createDirectory(
            atPath: w.dir.file("journal/00000000000000000000.jsonl"), withIntermediateDirectories: true)
        let outcome = try ChildProcess.run(
            [
                "run", "--database", w.dir.file("p.db"), "--journal", w.dir.file("journal"), "--jobs-dir",
                w.dir.file("jobs"),
            ])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("cannot read journal file"), "\(outcome.stderr)")
    }

    /// The lock file must not be followed through a symlink someone planted.
    @Test func aSymlinkedLockFileIsRefused() throws {
        let w = try Workspace()
        try FileManager.default.createSymbolicLink(
            atPath: w.dir.file("p.db.lock"), withDestinationPath: w.dir.file("elsewhere"))
        let outcome = try w.run()
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("cannot take the lock"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.dir.file("elsewhere")))
    }

    /// The database (and so its lock file) on a read-only file system: a configuration error
    /// naming the lock file and what to do.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a read-only tmpfs"))
    func aReadOnlyLockDirectoryIsAClearError() throws {
        let w = try Workspace()
        let mountPoint = w.dir.file("readonly")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(try ChildProcess.shell("mount -t tmpfs -o ro,size=1m tmpfs \(mountPoint)") == 0)
        defer { _ = try? ChildProcess.shell("umount \(mountPoint)") }
        let outcome = try ChildProcess.run(
            [
                "run", "--database", mountPoint + "/p.db", "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
                w.dir.file("jobs"),
            ])
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("cannot write the lock file \(mountPoint)/p.db.lock"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("\(mountPoint) is on a read-only file system"))
    }
}
