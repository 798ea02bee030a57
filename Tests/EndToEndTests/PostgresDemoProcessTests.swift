import Foundation
import TestSupport
import Testing

/// `projector demo --postgres`: the demo on a throwaway PostgreSQL server of its own, removed at the end.
// Serialized: a test below finds the server its demo started by the directories that appear.
@Suite(.postgresServer, .serialized) struct PostgresDemoProcessTests {
    static let root = ChildProcess.repositoryRoot()

    /// The cluster directory the demo announced on its "== 0." line.
    static func clusterDirectory(_ stdout: String) -> String? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("== 0.") }),
            let start = line.range(of: "(in "), let end = line.range(of: "/)", range: start.upperBound..<line.endIndex)
        else { return nil }
        return String(line[start.upperBound..<end.lowerBound])
    }

    @Test func theDemoRunsOnPostgresVerifiesAndRemovesItsServer() throws {
        let dir = TemporaryDirectory("projector-demo-pg")
        let demo = try ChildProcess.run([
            "demo", "--postgres", "--dir", dir.path, "--events", "600", "--jobs-dir", Self.root + "/jobs/postgres",
            "--cluster-script", Self.root + "/scripts/postgres-cluster",
        ])
        #expect(demo.status == 0, "\(demo.stdout)\n\(demo.stderr)")
        #expect(demo.stdout.contains("read models and webhook signatures verified"), "\(demo.stdout)")
        #expect(demo.stdout.contains("test_runs_view: "), "\(demo.stdout)")
        #expect(!demo.stdout.contains("INVALID"))
        #expect(demo.stdout.contains("rejected lines: 2"), "\(demo.stdout)")
        let cluster = try #require(Self.clusterDirectory(demo.stdout), "\(demo.stdout)")
        #expect(!FileManager.default.fileExists(atPath: cluster), "the demo's server was left in \(cluster)")
    }

    @Test func aFailingDemoStillRemovesItsServer() throws {
        let dir = TemporaryDirectory("projector-demo-pg-fail")
        // SQLite's jobs on PostgreSQL: refused (78) after the server started.
        let demo = try ChildProcess.run([
            "demo", "--postgres", "--dir", dir.file("out"), "--events", "200", "--jobs-dir", Self.root + "/jobs",
            "--cluster-script", Self.root + "/scripts/postgres-cluster",
        ])
        #expect(demo.status == 78, "\(demo.stdout)\n\(demo.stderr)")
        #expect(demo.stderr.contains("dialect"), "\(demo.stderr)")
        let cluster = try #require(Self.clusterDirectory(demo.stdout), "\(demo.stdout)")
        #expect(!FileManager.default.fileExists(atPath: cluster), "the demo's server was left in \(cluster)")
    }

    /// The demo servers' directories now under /tmp.
    static func clusterDirectories() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        return Set(names.filter { $0.hasPrefix("projector-demo-postgres-") }.map { "/tmp/" + $0 })
    }

    @Test func aSignalEndsTheDemoAndRemovesItsServer() throws {
        let before = Self.clusterDirectories()
        let dir = TemporaryDirectory("projector-demo-pg-signal")
        let demo = try ChildProcess([
            "demo", "--postgres", "--dir", dir.file("out"), "--events", "50000", "--jobs-dir",
            Self.root + "/jobs/postgres", "--cluster-script", Self.root + "/scripts/postgres-cluster",
        ])
        var cluster: String?
        for _ in 0..<600 where cluster == nil {
            // As soon as its directory is there: while the server is still starting.
            cluster = Self.clusterDirectories().subtracting(before).first
            if cluster == nil { usleep(100_000) }
        }
        kill(demo.pid, SIGTERM)
        let outcome = demo.wait()
        let started = try #require(cluster, "the demo's server never started: \(outcome.stderr)")
        #expect(outcome.status == 128 + SIGTERM && !outcome.signaled, "\(outcome.stdout)\n\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: started), "the demo's server was left in \(started)")
    }

    @Test func withoutTheClusterScriptTheDemoSaysWhereItLooked() throws {
        let dir = TemporaryDirectory("projector-demo-pg-noscript")
        let demo = try ChildProcess.run([
            "demo", "--postgres", "--dir", dir.file("out"), "--events", "200", "--jobs-dir",
            Self.root + "/jobs/postgres",
            "--cluster-script", dir.file("no-such-script"),
        ])
        #expect(demo.status == 66, "\(demo.stderr)")
        #expect(demo.stderr.contains(dir.file("no-such-script")), "\(demo.stderr)")
    }
}
