import ArgumentParser
import Foundation
import ProjectorCore
import Runner
import Webhooks

struct WebhooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "List, retry, test-fire and verify completion webhooks.",
        subcommands: [List.self, Retry.self, Test.self, Verify.self, Secret.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List notifications of the outbox.")

        @OptionGroup var store: StoreOptions
        @Option(help: "Only this state: pending, delivered, dead or disabled.") var state: String?
        @Option(help: "Newest first, at most this many.") var limit = 50
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let state, !["pending", "delivered", "dead", "disabled"].contains(state) {
                throw ValidationError("--state must be pending, delivered, dead or disabled")
            }
        }

        func run() throws {
            let options = try store.runOptions()
            try store.requireExistingDatabase(options)
            let filter = OutboxFilter(
                states: state.flatMap(OutboxState.init(rawValue:)).map { [$0] }, limit: limit, order: .newestFirst)
            let rows: [OutboxRow] = try WebhookAdmin(
                databasePath: options.databasePath, postgresSchema: options.postgresSchema
            ).list(filter)
            if json {
                print(try Output.json(rows.map(ListedNotification.init)))
                return
            }
            var table = [["id", "message", "endpoint", "job", "state", "attempts", "last", "next attempt"]]
            for row in rows {
                table.append([
                    String(row.id), row.messageID, row.endpoint, row.job, row.state.rawValue, String(row.attempts),
                    row.lastStatus.map { "HTTP \($0)" } ?? (row.lastError ?? "-"),
                    row.state == .pending ? Output.time(row.nextAttemptAt) : "-",
                ])
            }
            print(Output.table(table))
        }
    }

    /// A notification as `webhooks list --json` shows it (the body as text).
    struct ListedNotification: Encodable {
        var id: Int
        var messageID: String
        var endpoint: String
        var job: String
        var state: String
        var attempts: Int
        var createdAt: Double
        var nextAttemptAt: Double
        var lastStatus: Int?
        var lastError: String?
        var deliveredAt: Double?
        var body: String

        init(_ row: OutboxRow) {
            id = row.id
            messageID = row.messageID
            endpoint = row.endpoint
            job = row.job
            state = row.state.rawValue
            attempts = row.attempts
            createdAt = row.createdAt
            nextAttemptAt = row.nextAttemptAt
            lastStatus = row.lastStatus
            lastError = row.lastError
            deliveredAt = row.deliveredAt
            body = String(decoding: row.body, as: UTF8.self)
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make notifications pending again (and re-enable their endpoints).",
            discussion: "The next run delivers them; --deliver delivers them now, under the run lock."
        )

        @OptionGroup var store: StoreOptions
        @OptionGroup var lock: LockOptions
        @Argument(help: "Outbox ids (see `webhooks list`).") var ids: [Int] = []
        @Flag(name: .customLong("all-dead"), help: "Every dead or disabled notification.") var allDead = false
        @Flag(help: "Deliver now instead of at the next run.") var deliver = false

        func validate() throws {
            if ids.isEmpty == !allDead { throw ValidationError("give outbox ids or --all-dead (not both)") }
        }

        func run() throws {
            var options = try store.runOptions(signing: deliver ? .all : .none)
            try store.requireExistingDatabase(options)
            lock.apply(to: &options)
            let logger = store.makeLogger()
            let lock = try RunLock(options: options, wait: true, logger: logger)
            defer { withExtendedLifetime(lock) {} }
            let webhooks = try WebhookAdmin(databasePath: options.databasePath, postgresSchema: options.postgresSchema)
            let count = try webhooks.retry(
                allDead ? OutboxFilter(states: [.dead, .disabled]) : OutboxFilter(ids: ids), now: SystemClock().now())
            print("\(count) notification(s) pending again")
            if deliver {
                let report = try webhooks.deliverDue(options: options, clock: SystemClock(), logger: logger)
                print("delivered \(report.delivered), retrying \(report.retrying), dead \(report.dead)")
            }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a signed test notification to an endpoint and print the response.")

        @OptionGroup var store: StoreOptions
        @Argument(help: "The endpoint's name in the configuration.") var endpoint: String

        func run() throws {
            let options = try store.runOptions(signing: .endpoint(endpoint))
            guard let target = options.endpoints.first(where: { $0.name == endpoint }) else {
                throw RunError.configuration(
                    "no webhook endpoint '\(endpoint)'; configured: "
                        + options.endpoints.map(\.name).joined(separator: ", "))
            }
            let now = SystemClock().now()
            let body = Notification(
                job: "test", runID: 0, fromPosition: 0, toPosition: 0, events: 0, keys: [], keysTotal: 0, failures: 0,
                timestamp: now, type: "projection.test"
            ).body
            let id = Notification.newID(prefix: "msg_test_")
            let result = CurlTransport().perform(
                [target.request(messageID: id, body: body, timestamp: Int(now))], budget: target.timeout + 1)[0]
            print("POST \(target.url)  webhook-id: \(id)")
            if let status = result.status {
                print("HTTP \(status) in \(Output.seconds(result.seconds))")
                if !result.body.isEmpty { print(String(decoding: result.body.prefix(2000), as: UTF8.self)) }
                if !(200..<300).contains(status) { throw ExitCode(ExitStatus.unexpected) }
            } else {
                print("failed: \(result.failure?.description ?? "no response")")
                throw ExitCode(ExitStatus.unexpected)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a received notification's signature (for consumers, from a shell).",
            discussion: """
                Reads the request from standard input: header lines (`webhook-id: …`, `webhook-timestamp: …`, \
                `webhook-signature: …`; a request line before them is skipped), an empty line, then the body \
                exactly as received. Exits 0 when a signature matches, 65 when not.
                """
        )

        @Option(name: .customLong("secret-env"), help: "Environment variable holding the secret(s).")
        var secretEnv: String?
        @Option(name: .customLong("secret-file"), help: "File holding the secret(s).") var secretFile: String?
        @Option(help: "Largest accepted distance between webhook-timestamp and now, in seconds.")
        var tolerance = 300

        func validate() throws {
            if (secretEnv == nil) == (secretFile == nil) { throw ValidationError("give --secret-env or --secret-file") }
        }

        func run() throws {
            let text: String?
            if let secretEnv {
                text = ProcessInfo.processInfo.environment[secretEnv]
            } else {
                text = secretFile.flatMap { FileManager.default.contents(atPath: $0) }.map {
                    String(decoding: $0, as: UTF8.self)
                }
            }
            guard let text, !text.isEmpty else { throw RunError.configuration("the secret is not set") }
            let secrets: [WebhookSecret]
            do {
                secrets = try WebhookSecret.list(text)
            } catch {
                throw RunError.configuration("invalid secret: \(error)")
            }
            let input = Array(FileHandle.standardInput.readDataToEndOfFile())
            var headers: [String: String] = [:]
            var index = 0
            while index < input.count {
                var end = index
                while end < input.count, input[end] != 0x0A { end += 1 }
                var line = String(decoding: input[index..<end], as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                index = end + 1
                if line.isEmpty { break }
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                        in: .whitespaces)
                }
            }
            let body = index < input.count ? Array(input[index...]) : []
            do {
                try WebhookSigner.verify(
                    headers: headers, body: body, secrets: secrets, now: Int(SystemClock().now()), tolerance: tolerance)
                print("valid: \(headers["webhook-id"] ?? "")")
            } catch {
                FileHandle.standardError.write(Data("invalid: \(error)\n".utf8))
                throw ExitCode(ExitStatus.dataError)
            }
        }
    }

    struct Secret: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random signing secret (whsec_…).")

        func run() throws { print(WebhookSecret.generate()) }
    }
}
