import Foundation
import Journal
import QaHubDemo
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

/// Switching to the units' users and mounting a read-only root like `ProtectSystem=strict` need
/// root (CI runs the tests as root).
let runsAsRoot = getuid() == 0
let hasSandboxTools = ["/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/journalctl"].allSatisfy {
    FileManager.default.isExecutableFile(atPath: $0)
}
/// Whether this container lets root make a mount namespace and bind-mount in it.
let canMountNamespaces: Bool = {
    guard runsAsRoot, hasSandboxTools else { return false }
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    probe.arguments = ["--mount", "/bin/sh", "-c", "mount --bind /tmp /tmp"]
    probe.standardOutput = FileHandle.nullDevice
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}()

/// The shipped units, example configuration and installation steps, tried together without a
/// running systemd: the operations guide's install block runs against a scratch root, then each
/// unit's `ExecStart=` runs as the unit's (dynamic) user with its groups, working directory,
/// credentials and umask, in a mount namespace where the scratch root is read-only except the
/// unit's `StateDirectory=` and `ReadWritePaths=`.
@Suite struct DeploymentTests {
    @Test(
        .enabled(if: runsAsRoot, "needs root to switch to the units' users and mount a read-only root"),
        .enabled(if: hasSandboxTools, "needs unshare, setpriv and journalctl (util-linux, systemd)"),
        .enabled(if: canMountNamespaces, "needs mount namespaces (unshare --mount, bind mounts)"))
    func theShippedUnitsWorkAsTheOperationsGuideInstallsThem() throws {
        let host = try ScratchHost()
        // Given the API's journal and write model, owned by the API's user,
        try host.createAPIData()
        // when the operations guide's install steps run,
        let install = try host.runInstallSteps()
        #expect(install.status == 0, "install steps failed: \(install.stderr)")
        #expect(install.stderr.contains("warning: webhook endpoint"), "\(install.stderr)")
        let receiver = try host.pointWebhooksAtALocalReceiver()
        try host.restartAPI()

        // then projector.service runs as its dynamic user and signs with both credentials,
        let service = try host.unit("projector.service")
        #expect(service.values("LoadCredential").count == 2)
        for attempt in 1...2 {
            for outcome in try host.start(service) {
                #expect(outcome.status == 0, "run \(attempt): \(outcome.stderr)")
            }
        }
        #expect(FileManager.default.fileExists(atPath: host.path("/var/lib/projector/read.db")))
        let endpoints = Set(receiver.received.map(\.path))
        #expect(endpoints == ["/qa-dashboard", "/cache-invalidator"], "\(endpoints)")
        #expect(receiver.received.allSatisfy { $0.verified == true })
        let metrics = try FileManager.default.attributesOfItem(
            atPath: host.path("/var/lib/prometheus/node-exporter/projector.prom"))
        #expect(((metrics[.posixPermissions] as? Int) ?? 0) & 0o004 != 0, "the node exporter cannot read the metrics")

        // and the maintenance unit verifies and prunes without any secret.
        let segments = try Journal(path: host.path("/srv/qahub/journal")).segments.count
        let maintenance = try host.unit("projector-maintenance.service")
        #expect(maintenance.values("LoadCredential").isEmpty)
        let outcomes = try host.start(maintenance)
        #expect(outcomes.count == 3)
        for outcome in outcomes { #expect(outcome.status == 0, "\(outcome.stderr)") }
        #expect(try Journal(path: host.path("/srv/qahub/journal")).segments.count < segments)
    }

    @Test(
        .enabled(if: runsAsRoot, "needs root to switch users and mount a journal directory"),
        .enabled(if: hasSandboxTools, "needs unshare, setpriv and journalctl (util-linux, systemd)"),
        .enabled(if: canMountNamespaces, "needs mount namespaces (unshare --mount, bind mounts)"),
        .enabled(if: FileManager.default.fileExists(atPath: "/etc/machine-id"), "journalctl needs a machine id"))
    func theFailureHookCanReadTheFailedUnitsLog() throws {
        let host = try ScratchHost()
        try FileManager.default.createDirectory(
            atPath: host.path("/etc/systemd/system"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: ChildProcess.repositoryRoot() + "/schedules/projector-failure@.service",
            toPath: host.path("/etc/systemd/system/projector-failure@.service"))
        // A journal as journald leaves it: root:systemd-journal, 0640.
        let machine = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let logs = host.scratch.file("log")
        try host.scratch.write("log/journal/\(machine)/system.journal", "LPKSHHRH")
        for path in [logs + "/journal", logs + "/journal/\(machine)", logs + "/journal/\(machine)/system.journal"] {
            #expect(chown(path, 0, host.journalGroup) == 0)
        }
        #expect(chmod(logs + "/journal/\(machine)/system.journal", 0o640) == 0)
        let hook = try host.unit("projector-failure@.service")
        let outcome = try #require(
            try host.start(hook, instance: "projector.service", mounts: [logs: "/var/log"]).first)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("insufficient permissions"), "\(outcome.stderr)")
    }

    /// A unit without the group that may read the journal, or with a configuration only root may
    /// read, must hear "permission denied", not that the file does not exist.
    @Test(.enabled(if: runsAsRoot, "needs root to run projector as another user"))
    func whatTheUserCannotReadIsPermissionDeniedNotMissing() throws {
        let host = try ScratchHost()
        try host.createAPIData()
        let asUser = [
            "/usr/bin/setpriv", "--reuid=61300", "--regid=61300", "--clear-groups", ChildProcess.projectorPath,
        ]
        let journal = try host.run(
            asUser + [
                "journal", "check", "--journal", host.path("/srv/qahub/journal"), "--jobs-dir",
                ChildProcess.repositoryRoot() + "/jobs",
            ])
        #expect(journal.status == 66, "\(journal.stderr)")
        #expect(journal.stderr.contains("Permission denied"), "\(journal.stderr)")
        #expect(!journal.stderr.contains("does not exist"), "\(journal.stderr)")
        let config = try host.scratch.write("private/projector.json", "{}")
        #expect(chmod(host.scratch.file("private"), 0o700) == 0)
        let status = try host.run(asUser + ["status", "--config", config])
        #expect(status.status == 66, "\(status.stderr)")
        #expect(
            status.stderr.contains("cannot read the configuration file \(config): Permission denied"),
            "\(status.stderr)")
    }
}

/// A scratch root standing for `/`: the paths the units and the guide name live under it.
final class ScratchHost {
    let scratch = TemporaryDirectory("projector-deploy")
    let root: String
    /// The API's user and group (`qahub`).
    let apiUser: uid_t = 61_501
    let apiGroup: gid_t = 61_500
    let journalGroup: gid_t = getgrnam("systemd-journal")?.pointee.gr_gid ?? 61_600
    /// The group that may write the node exporter's directory in the runners' install steps.
    let metricsGroup: gid_t = 61_502
    /// Dynamic users by name, as systemd allocates them: one per `User=` name.
    var dynamicUsers: [String: uid_t] = [:]
    /// The paths the units and the guide name, all moved under the root.
    static let prefixes = [
        "/etc/projector", "/etc/systemd/system", "/var/lib/projector", "/var/lib/prometheus", "/srv/qahub",
        "/usr/local/bin", "/usr/share/doc/projector", "/run/credentials", "/run/projector-runner",
    ]

    init() throws {
        root = scratch.file("root")
        for directory in ["/etc/systemd/system", "/usr/local/bin", "/var/lib", "/srv/qahub", "/run/credentials"] {
            try FileManager.default.createDirectory(atPath: root + directory, withIntermediateDirectories: true)
        }
    }

    func path(_ absolute: String) -> String { root + absolute }

    /// Moves every known absolute path of `text` under the root.
    func relocate(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let (index, prefix) = Self.prefixes.compactMap({ p in rest.range(of: p).map { ($0.lowerBound, p) } })
            .min(by: { $0.0 < $1.0 })
        {
            result += rest[..<index] + root + prefix
            rest = rest[rest.index(index, offsetBy: prefix.count)...]
        }
        return result + rest
    }

    /// The API's journal (several segments) and WAL write model, private to the API's user and
    /// group.
    func createAPIData() throws {
        let journal = path("/srv/qahub/journal")
        let writeModel = path("/srv/qahub/data/qahub.db")
        try FileManager.default.createDirectory(atPath: path("/srv/qahub/data"), withIntermediateDirectories: true)
        do {
            let writer = try JournalWriter(path: journal, directory: true, segmentBytes: 256 << 10)
            let simulator = try QaHubSimulator(writeModelPath: writeModel, journal: writer, seed: 5)
            try simulator.bootstrap(projects: 4)
            try simulator.simulate(events: 3000)
        }
        #expect(try shell("chown -R \(apiUser):\(apiGroup) \(path("/srv/qahub"))").status == 0)
        #expect(try shell("chmod -R o-rwx \(path("/srv/qahub"))").status == 0)
    }

    /// The API restarted: its last connection checkpointed the write model and removed its
    /// `-wal` and `-shm` files, so the next reader creates them.
    func restartAPI() throws {
        for suffix in ["-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path("/srv/qahub/data/qahub.db" + suffix))
        }
    }

    /// The first `sh` block of the section `heading` of docs/operations.md, run as root against
    /// the root: the build, `systemctl` and group-making (`getent group … || groupadd …`) lines are
    /// left out (the test adds no group to the machine), the groups `qahub` and `projector-metrics`
    /// are the test's, the command `projector` is the one the block installed, and the example
    /// configuration's paths are under the root too. `replacing` stands for what an operator fills in (a server, a
    /// password), in the block and in the example alike.
    func runInstallSteps(
        section heading: String = "## Install", example: String = "projector.example.json",
        replacing: [(String, String)] = []
    ) throws -> Outcome {
        func filled(_ text: String) -> String {
            replacing.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
        }
        let copy = try scratch.write(
            example,
            relocate(
                filled(try String(contentsOfFile: ChildProcess.repositoryRoot() + "/" + example, encoding: .utf8))))
        let guide = try String(
            contentsOfFile: ChildProcess.repositoryRoot() + "/docs/operations.md", encoding: .utf8)
        let section = try #require(guide.components(separatedBy: heading + "\n").dropFirst().first)
        let block = try #require(
            section.components(separatedBy: "```sh\n").dropFirst().first?
                .components(separatedBy: "```").first)
        var steps: [String] = []
        for line in block.split(separator: "\n").map(String.init)
        where !line.hasPrefix("scripts/setup") && !line.contains("systemctl") && !line.hasPrefix("getent group") {
            let step = relocate(
                filled(line).replacingOccurrences(of: ".build/release/projector", with: ChildProcess.projectorPath)
            )
            .replacingOccurrences(of: " qahub ", with: " \(apiGroup) ")
            .replacingOccurrences(of: " projector-metrics ", with: " \(metricsGroup) ")
            .replacingOccurrences(of: " \(example) ", with: " \(copy) ")
            let installed = path("/usr/local/bin/projector")
            steps.append(
                step.split(separator: " ", omittingEmptySubsequences: false)
                    .map { $0 == "projector" ? installed : String($0) }.joined(separator: " "))
        }
        return try shell(steps.joined(separator: "\n"), directory: ChildProcess.repositoryRoot())
    }

    /// Points the installed configuration's endpoints at a receiver on 127.0.0.1 (a path per
    /// endpoint) that checks signatures with the secrets the install steps made.
    func pointWebhooksAtALocalReceiver() throws -> WebhookReceiver {
        var secrets: [WebhookSecret] = []
        for name in ["qa-dashboard", "cache-invalidator"] {
            secrets += try WebhookSecret.list(
                try String(contentsOfFile: path("/etc/projector/\(name).secret"), encoding: .utf8))
        }
        let receiver = try WebhookReceiver(secrets: secrets)
        let file = path("/etc/projector/projector.json")
        var json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        var webhooks = try #require(json["webhooks"] as? [String: [String: Any]])
        for name in webhooks.keys {
            webhooks[name]?["url"] = "http://127.0.0.1:\(receiver.port)/\(name)"
            webhooks[name]?["allowHTTP"] = true
        }
        json["webhooks"] = webhooks
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        return receiver
    }

    func unit(_ name: String) throws -> UnitFile {
        try UnitFile(name: name, text: String(contentsOfFile: path("/etc/systemd/system/\(name)"), encoding: .utf8))
    }

    /// Runs each `ExecStart=` of the unit as systemd would, as far as that goes without systemd.
    func start(_ unit: UnitFile, instance: String = "", mounts: [String: String] = [:]) throws -> [Outcome] {
        try
            (commands(unit, "ExecStartPre", instance: instance, mounts: mounts)
            + commands(unit, "ExecStart", instance: instance, mounts: mounts)).map { try run($0) }
    }

    /// Starts the unit's (first) `ExecStart=` as `start` does and leaves it running, its output in
    /// files of its own (a long-running service's log would fill a pipe nobody reads).
    func launch(_ unit: UnitFile, as name: String) throws -> (process: Process, log: String) {
        for before in try commands(unit, "ExecStartPre") {
            let outcome = try run(before)
            #expect(outcome.status == 0, "ExecStartPre= of \(unit.name) failed: \(outcome.stderr)")
        }
        let log = scratch.file("\(name).log")
        return (try spawn(try #require(try commands(unit, "ExecStart").first), stdout: log, stderr: log), log)
    }

    /// Each `ExecStart=` (or `key`) of the unit as a command line: its user, groups, working
    /// directory, environment, credentials and umask, on a read-only root but for its writable
    /// paths and its state and runtime directories.
    func commands(
        _ unit: UnitFile, _ key: String, instance: String = "", mounts: [String: String] = [:]
    ) throws -> [[String]] {
        let userName =
            unit.value("User")
            ?? unit.name.components(separatedBy: "@")[0]
            .replacingOccurrences(of: ".service", with: "")
        let uid = dynamicUsers[userName] ?? 61_300 + uid_t(dynamicUsers.count)
        dynamicUsers[userName] = uid
        var groups: [gid_t] = []
        for group in unit.values("SupplementaryGroups").flatMap({ $0.split(separator: " ") }) {
            switch group {
            case "qahub": groups.append(apiGroup)
            case "systemd-journal": groups.append(journalGroup)
            case "projector-metrics": groups.append(metricsGroup)
            default: Issue.record("the test does not know group \(group)")
            }
        }
        var writable: [String] = []
        for name in unit.values("StateDirectory").flatMap({ $0.split(separator: " ") }) {
            let directory = path("/var/lib/\(name)")
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                #expect(chown(directory, uid, uid) == 0)
            }
            writable.append(directory)
        }
        var environment = ["PATH=/usr/local/bin:/usr/bin:/bin"]
        for name in unit.values("RuntimeDirectory").flatMap({ $0.split(separator: " ") }) {
            let directory = path("/run/\(name)")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let mode = unit.value("RuntimeDirectoryMode").flatMap { mode_t($0, radix: 8) } ?? 0o755
            #expect(chown(directory, uid, uid) == 0 && chmod(directory, mode) == 0)
            writable.append(directory)
            environment.append("RUNTIME_DIRECTORY=" + directory)
        }
        writable += unit.values("ReadWritePaths").flatMap { $0.split(separator: " ").map { relocate(String($0)) } }
        let credentials = unit.values("LoadCredential")
        let directory = path("/run/credentials/\(unit.name)")
        if !credentials.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for credential in credentials {
                let parts = credential.split(separator: ":", maxSplits: 1).map(String.init)
                let target = directory + "/" + parts[0]
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: relocate(parts[1]), toPath: target)
                // As systemd 254 and later hand credentials to a dynamic user: root's, readable
                // by the user through its group (an ACL there), mode 0440.
                #expect(chown(target, 0, uid) == 0 && chmod(target, 0o440) == 0)
            }
            #expect(chown(directory, uid, uid) == 0 && chmod(directory, 0o500) == 0)
            environment.append("CREDENTIALS_DIRECTORY=" + directory)
        }
        // `%d` is the credentials directory, `%t` the runtime root; the units set no variable with
        // spaces or quotes.
        environment += unit.values("Environment").map {
            relocate($0.replacingOccurrences(of: "%d", with: directory).replacingOccurrences(of: "%t/", with: "/run/"))
        }
        var commands: [[String]] = []
        for line in unit.values(key) {
            // `${NAME}` in a command is the variable's value, as systemd substitutes it.
            let command = UnitFile.split(relocate(line.replacingOccurrences(of: "%i", with: instance))).map { word in
                environment.reduce(word) { word, assignment in
                    let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                    return parts.count == 2 ? word.replacingOccurrences(of: "${\(parts[0])}", with: parts[1]) : word
                }
            }
            var script = ["mount --bind \(root) \(root)", "mount -o remount,bind,ro \(root)"]
            for directory in writable {
                script += ["mount --bind \(directory) \(directory)", "mount -o remount,bind,rw \(directory)"]
            }
            for (source, target) in mounts { script.append("mount --bind \(source) \(target)") }
            script.append("cd \(relocate(unit.value("WorkingDirectory") ?? "/"))")
            script.append("umask \(unit.value("UMask") ?? "0022")")
            let setpriv =
                ["setpriv", "--reuid=\(uid)", "--regid=\(uid)"]
                + (groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")])
                + (unit.value("NoNewPrivileges") == "yes" ? ["--no-new-privs"] : [])
            script.append(
                "exec "
                    + (setpriv + ["env", "-i"] + environment + command).map(UnitFile.quote).joined(
                        separator: " "))
            commands.append(["/usr/bin/unshare", "--mount", "/bin/sh", "-ec", script.joined(separator: "\n")])
        }
        return commands
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func shell(_ script: String, directory: String? = nil) throws -> Outcome {
        try run(["/bin/sh", "-ec", script], directory: directory)
    }

    /// Runs a command with its output in files (no pipe to fill up).
    func run(_ arguments: [String], directory: String? = nil) throws -> Outcome {
        let out = scratch.file("stdout")
        let err = scratch.file("stderr")
        let process = try spawn(arguments, directory: directory, stdout: out, stderr: err)
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Starts a command with its output written to files, emptied first (one file for both takes
    /// them interleaved).
    func spawn(_ arguments: [String], directory: String? = nil, stdout: String, stderr: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        for file in Set([stdout, stderr]) { _ = FileManager.default.createFile(atPath: file, contents: nil) }
        let out = FileHandle(forWritingAtPath: stdout)
        process.standardOutput = out
        process.standardError = stderr == stdout ? out : FileHandle(forWritingAtPath: stderr)
        try process.run()
        return process
    }
}

/// A systemd unit file: `Key=value` lines by section, repeated keys kept in order.
struct UnitFile {
    let name: String
    let entries: [(key: String, value: String)]

    init(name: String, text: String) {
        self.name = name
        entries = text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), !trimmed.hasPrefix("["), let equals = trimmed.firstIndex(of: "=") else {
                return nil
            }
            return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
        }
    }

    func values(_ key: String) -> [String] { entries.filter { $0.key == key }.map(\.value).filter { !$0.isEmpty } }

    func value(_ key: String) -> String? { values(key).last }

    /// Splits a command line the way systemd does for these units: words, single or double quotes.
    static func split(_ line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var quote: Character?
        var inWord = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }

    /// A word for `sh`, single-quoted.
    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
}
