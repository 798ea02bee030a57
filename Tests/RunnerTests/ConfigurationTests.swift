import Foundation
import Runner
import TestSupport
import Testing
import Webhooks

@Suite struct ConfigurationTests {
    static let endpoint = #""url": "https://dash.example/h", "secretEnv": "DASH_SECRET""#

    /// Every value a typo or a slip of the sign can produce is refused with the key path that holds
    /// it, instead of silently falling back to a default.
    @Test(arguments: [
        (#"{"databse": "x.db"}"#, "unknown key 'databse' (did you mean 'database'?)"),
        (#"{"Journal": "j"}"#, "unknown key 'Journal' (did you mean 'journal'?)"),
        (#"{"colour": "blue"}"#, "unknown key 'colour'; known keys here: database, journal"),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "maxAttemps": 3}}}"#,
            "unknown key 'webhooks.dash.maxAttemps' (did you mean 'maxAttempts'?)"
        ),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "maxAttempts": -1}}}"#,
            "webhooks.dash.maxAttempts: must be at least 1 (got -1)"
        ),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "timeoutSeconds": 0}}}"#,
            "webhooks.dash.timeoutSeconds: must be a positive number of seconds (got 0.0)"
        ),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "schedule": [5, -5]}}}"#,
            "webhooks.dash.schedule[1]: must be a positive number of seconds (got -5.0)"
        ),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "schedule": []}}}"#,
            "webhooks.dash.schedule: must list at least one delay"
        ),
        (#"{"webhookBudgetSeconds": -3}"#, "webhookBudgetSeconds: must be a positive number of seconds (got -3.0)"),
        (#"{"retentionDays": 0}"#, "retentionDays: must be a positive number of days (got 0.0)"),
        (
            #"{"postgresSchema": "Read-Models"}"#,
            "postgresSchema: must be lower-case letters, digits and _, not starting with a digit (got 'Read-Models')"
        ),
        (#"{"postgresSchema": "pg_mine"}"#, "postgresSchema: must not start with pg_ (PostgreSQL's own schemas)"),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "secretFile": "dash.secret"}}}"#,
            "webhooks.dash: secretEnv and secretFile are both set; give exactly one secret source"
        ),
        (
            #"{"webhooks": {"dash": {"url": "https://dash.example/h"}}}"#,
            "webhooks.dash: no secret; set one of secretEnv, secretFile or secretCredential"
        ),
        (
            #"{"webhooks": {"dash": {"url": "https://dash.example/h", "secretCredential": "../x"}}}"#,
            "webhooks.dash.secretCredential: must be a credential name"
        ),
        (
            #"{"webhooks": {"dash": {\#(endpoint), "maxAttempts": "3"}}}"#,
            "webhooks.dash.maxAttempts: must be an integer"
        ),
        (#"{"webhooks": {"dash": {"secretEnv": "S"}}}"#, "missing key 'webhooks.dash.url'"),
        (
            #"{"webhooks": {"dash": {"url": "ftp://x", "secretEnv": "S"}}}"#,
            "webhooks.dash.url: must start with https://"
        ),
        (#"{"attach": {"my app": "w.db"}}"#, "attach.my app: expects a name of letters, digits and _"),
        (#"{"database": ""}"#, "database: must not be empty"),
    ])
    func aConfigurationProblemIsRefusedWithItsKeyPath(json: String, expected: String) throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("p.json", json)
        do {
            _ = try ProjectorConfiguration.load(path: path)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains("\(path): \(expected)"), "\(error)")
        }
    }

    @Test func everyProblemOfAFileIsListedAtOnce() throws {
        let dir = TemporaryDirectory()
        let path = try dir.write(
            "p.json", #"{"databse": "x.db", "webhooks": {"dash": {\#(Self.endpoint), "maxAttempts": 0}}}"#)
        #expect(throws: RunError.self) { try ProjectorConfiguration.load(path: path) }
        do {
            _ = try ProjectorConfiguration.load(path: path)
        } catch {
            #expect(error.description.contains("unknown key 'databse'"))
            #expect(error.description.contains("webhooks.dash.maxAttempts: must be at least 1"))
        }
    }

    /// Malformed JSON is reported as file:line:column, including what Foundation's decoder lets
    /// through (a trailing comma).
    @Test(arguments: [
        ("{\n  \"database\": \"a.db\",\n  \"journal\" \"j\"\n}", ":3:13: not valid JSON"),
        ("{\n  \"database\": \"a.db\",\n}", ":3:1: not valid JSON"),
        ("{\"attach\": {\"app\": \"é.db\"}, \"x\": tru}", ":1:34: not valid JSON"),
        ("{\"database\": \"a.db\"", ":1:20: not valid JSON"),
        ("", ": the file is empty"),
        ("[1]", ": the file must hold one JSON object"),
    ])
    func malformedJSONIsReportedWithLineAndColumn(text: String, expected: String) throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("p.json", text)
        do {
            _ = try ProjectorConfiguration.load(path: path)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(path + expected), "\(error)")
        }
    }

    /// Valid JSON that the decoder would take silently or report without a place: a key given
    /// twice (one value would be dropped), a fraction for a whole number, a number out of range.
    @Test(arguments: [
        (
            "{\"database\": \"a.db\",\n \"database\": \"b.db\"}",
            ":2:2: 'database' is given twice (first at line 1); remove one"
        ),
        (
            "{\"webhooks\": {\"x\": {\"url\": \"https://a.example/h\", \"secretEnv\": \"S\",\n \"maxAttempts\": 2.5}}}",
            ":2:17: 'webhooks.x.maxAttempts' must be a whole number, not 2.5"
        ),
        (
            "{\"webhooks\": {\"x\": {\"url\": \"https://a.example/h\", \"secretEnv\": \"S\", \"schedule\": [5, 1.5e400]}}}",
            ":1:85: 'webhooks.x.schedule[1]' is out of range: 1.5e400"
        ),
    ])
    func valuesTheDecoderWouldLoseAreReportedWithTheirPlace(text: String, expected: String) throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("p.json", text)
        do {
            _ = try ProjectorConfiguration.load(path: path)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(path + expected), "\(error)")
        }
    }

    @Test func aValidFileStillLoads() throws {
        let dir = TemporaryDirectory()
        let path = try dir.write(
            "p.json",
            #"""
            {"database": "read.db", "journal": "/srv/j", "jobsDir": "jobs", "attach": {"app": "w.db:rw"},
             "webhookBudgetSeconds": 15, "retentionDays": 7.5,
             "webhooks": {"dash": {\#(Self.endpoint), "jobs": ["*"], "timeoutSeconds": 10,
                                   "connectTimeoutSeconds": 5, "maxAttempts": 10, "schedule": [5, 300],
                                   "allowHTTP": false}}}
            """#)
        let configuration = try ProjectorConfiguration.load(path: path)
        #expect(configuration.resolve(configuration.database) == dir.file("read.db"))
        #expect(configuration.resolve(configuration.journal) == "/srv/j")
        #expect(configuration.secretSources["dash"] == .environment("DASH_SECRET"))
        #expect(configuration.retentionDays == 7.5)
    }
}
