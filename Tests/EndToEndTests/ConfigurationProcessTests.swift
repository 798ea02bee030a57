import Foundation
import QaHubDemo
import TestSupport
import Testing
import Webhooks

@Suite struct ConfigurationProcessTests {
    /// An on-call engineer in a plain shell has none of the webhook secrets: every command that
    /// signs nothing still works, and the ones that sign say which secret is missing (78).
    @Test func onCallCommandsNeedNoWebhookSecret() throws {
        let w = try QaHubWorkspace(events: 1000)
        let config = ["--config", w.dir.file("projector.json")]
        for arguments in [
            ["status"], ["status", "--json"], ["failures", "list"], ["verify", "test_runs_view", "--sample", "20"],
            ["journal", "check"], ["journal", "prune", "--dry-run"], ["journal", "prune"], ["config", "show"],
            ["webhooks", "list"], ["webhooks", "retry", "--all-dead"],
            ["replay", "test_runs_view", "--aggregate", "1"],
            ["run", "--dry-run"], ["validate"],
        ] {
            let outcome = try ChildProcess.run(arguments + config)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        }
        let validate = try ChildProcess.run(["validate"] + config)
        #expect(validate.stderr.contains("warning: webhook endpoint 'qa-dashboard'"), "\(validate.stderr)")
        #expect(validate.stderr.contains("QA_SECRET"))
        let show = try ChildProcess.run(["config", "show"] + config)
        #expect(show.stdout.contains("environment variable QA_SECRET (secretEnv) is not set"), "\(show.stdout)")
        for arguments in [
            ["run"], ["rebuild", "bug_budget_view"], ["webhooks", "retry", "--all-dead", "--deliver"],
            ["webhooks", "test", "qa-dashboard"],
        ] {
            let outcome = try ChildProcess.run(arguments + config)
            #expect(outcome.status == 78, "\(arguments): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains(
                    "webhook endpoint 'qa-dashboard': environment variable QA_SECRET (secretEnv) is not set"),
                "\(arguments): \(outcome.stderr)")
        }
    }

    /// A secret that is there but invalid is an error for `validate`, not a warning.
    @Test func validateRefusesAnInvalidSecret() throws {
        let w = try QaHubWorkspace(events: 200)
        let outcome = try ChildProcess.run(
            ["validate", "--config", w.dir.file("projector.json")], environment: ["QA_SECRET": "whsec_c2hvcnQ="])
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("webhook endpoint 'qa-dashboard'"))
        #expect(!outcome.stderr.contains("c2hvcnQ"))
    }

    /// `secretFile`, like every path in the file, is relative to the configuration file, not to
    /// the directory the command happens to run in.
    @Test func aRelativeSecretFileIsFoundNextToTheConfiguration() throws {
        let dir = TemporaryDirectory()
        let secret = WebhookSecret.generate()
        let receiver = try WebhookReceiver(secrets: try WebhookSecret.list(secret))
        try dir.write("etc/dash.secret", secret + "\n")
        try dir.write(
            "etc/projector.json",
            #"{"webhooks": {"dash": {"url": "\#(receiver.url)", "allowHTTP": true, "secretFile": "dash.secret"}}}"#)
        try FileManager.default.createDirectory(atPath: dir.file("elsewhere"), withIntermediateDirectories: true)
        let outcome = try ChildProcess(
            ["webhooks", "test", "dash", "--config", dir.file("etc/projector.json")], directory: dir.file("elsewhere")
        ).wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(receiver.received.count == 1)
        #expect(receiver.received.first?.verified == true)
    }

    /// Configuration mistakes exit 78 naming the key path, from any command.
    @Test func configurationMistakesExit78WithTheKeyPath() throws {
        let dir = TemporaryDirectory()
        let jobs = ChildProcess.repositoryRoot() + "/jobs"
        let endpoint = #""url": "https://dash.example/h", "secretEnv": "S""#
        try dir.write("journal.jsonl", "")
        for (json, expected) in [
            (#"{"databse": "x.db"}"#, "unknown key 'databse' (did you mean 'database'?)"),
            (#"{"webhooks": {"d": {\#(endpoint), "maxAttempts": -1}}}"#, "webhooks.d.maxAttempts: must be at least 1"),
            (#"{"webhooks": {"d": {\#(endpoint), "timeoutSeconds": 0}}}"#, "webhooks.d.timeoutSeconds: must be"),
            (#"{"webhooks": {"d": {\#(endpoint), "schedule": [-5]}}}"#, "webhooks.d.schedule[0]: must be"),
            (#"{"webhookBudgetSeconds": -3}"#, "webhookBudgetSeconds: must be a positive"),
            (#"{"retentionDays": -1}"#, "retentionDays: must be a positive number of days"),
            (#"{"postgresSchema": "9lives"}"#, "postgresSchema: must be lower-case letters"),
            (#"{"webhooks": {"d": {\#(endpoint), "secretFile": "f"}}}"#, "secretEnv and secretFile are both set"),
            ("{\n  \"database\": \"x.db\",\n}", "p.json:3:1: not valid JSON"),
        ] {
            let path = try dir.write("p.json", json)
            for command in [["status"], ["run"], ["config", "show"]] {
                let outcome = try ChildProcess.run(
                    command + ["--config", path, "--journal", dir.file("journal.jsonl"), "--jobs-dir", jobs])
                #expect(outcome.status == 78, "\(json) \(command): \(outcome.stderr)")
                #expect(outcome.stderr.contains(expected), "\(json) \(command): \(outcome.stderr)")
            }
        }
    }

    /// `retentionDays` reaches the run's options (`config show` prints the effective value).
    @Test func theRetentionPeriodComesFromTheConfigurationFile() throws {
        let dir = TemporaryDirectory()
        let jobs = ChildProcess.repositoryRoot() + "/jobs"
        let set = try dir.write("set.json", #"{"retentionDays": 7.5}"#)
        let unset = try dir.write("unset.json", "{}")
        for (path, expected) in [(set, "retention: 7.5 days"), (unset, "retention: 30.0 days")] {
            let outcome = try ChildProcess.run(["config", "show", "--config", path, "--jobs-dir", jobs])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout.contains(expected), "\(outcome.stdout)")
        }
    }

    /// An endpoint that lists a job that does not exist would never be notified: refused (78)
    /// where the jobs are loaded, with a suggestion; "*" stays allowed.
    @Test func anEndpointNamingAnUnknownJobIsRefused() throws {
        let w = try QaHubWorkspace(events: 200)
        try w.dir.write(
            "typo.json",
            """
            {"database": "read.db", "journal": "journal", "jobsDir": "\(ChildProcess.repositoryRoot())/jobs",
             "attach": {"app": "qahub.db"},
             "webhooks": {"qa-dashboard": {"url": "\(w.receiver.url)", "secretEnv": "QA_SECRET", "allowHTTP": true},
                          "cache": {"url": "https://cache.example/h", "secretEnv": "QA_SECRET",
                                    "jobs": ["*", "test_runs_veiw"]}}}
            """)
        for command in [["validate"], ["run"], ["run", "--dry-run"]] {
            let outcome = try ChildProcess.run(
                command + ["--config", w.dir.file("typo.json")], environment: ["QA_SECRET": w.secret])
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains(
                    "\(w.dir.file("typo.json")): webhooks.cache.jobs: no job 'test_runs_veiw' in "
                        + "\(ChildProcess.repositoryRoot())/jobs "
                        + "(did you mean 'test_runs_view'?)"), "\(outcome.stderr)")
        }
    }
}
