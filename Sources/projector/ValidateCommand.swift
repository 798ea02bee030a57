import ArgumentParser
import ProjectorCore
import Runner

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every job file and prepare its statements against the database (exit 78 on error).",
        discussion:
            "Errors are printed as file:line: message. Nothing is written: @setup runs in a transaction that is rolled back."
    )

    @OptionGroup var store: StoreOptions

    func run() throws {
        let logger = store.makeLogger()
        let options = try store.runOptions()
        let jobs: [String]
        do {
            jobs = try ProjectionRun(options: options, logger: logger).validate().map {
                "\($0.name) (\($0.mode.rawValue))"
            }
        } catch {
            throw ExitStatus.fail(error)
        }
        print("ok: \(jobs.count) job(s), in run order: " + jobs.joined(separator: ", "))
    }
}
