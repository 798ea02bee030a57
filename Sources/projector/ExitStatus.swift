import ArgumentParser
import Foundation
import Journal
import Runner

/// The sysexits-style codes of SPEC §6. Only the executable maps errors to them.
enum ExitStatus {
    static let ok: Int32 = 0
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let tempFail: Int32 = 75
    static let config: Int32 = 78
    static let unexpected: Int32 = 1

    static func code(for error: RunError) -> Int32 {
        switch error {
        case .lockHeld, .databaseBusy, .databaseUnavailable, .interrupted: return tempFail
        case .missingPath, .unreadable: return noInput
        case .jobs, .historyPruned, .configuration, .notWritable, .fileOperation, .notADatabase: return config
        case .usage, .unknownJobs: return usage
        case .keyFailed, .heldEventLost, .eventRefused: return dataError
        case .journal(let journalError):
            switch journalError {
            case .notFound: return noInput
            case .checkpointMismatch, .inconsistentSegments: return dataError
            case .unreadable, .writeFailed: return unexpected
            }
        case .lockFailed, .diskFull, .database: return unexpected
        }
    }

    /// A run that finished: 0 caught up (or stopped by a bound), 65 when lines were rejected or keys
    /// failed.
    static func code(for outcome: RunReport.Outcome) -> Int32 {
        switch outcome {
        case .caughtUp, .stoppedEarly: return ok
        case .rejects, .failures: return dataError
        }
    }

    /// Prints the error on standard error and exits with its code.
    static func fail(_ error: RunError) -> ExitCode {
        FileHandle.standardError.write(Data(("projector: " + error.description + "\n").utf8))
        return ExitCode(code(for: error))
    }
}
