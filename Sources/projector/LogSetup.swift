import Foundation
import Logging

enum LogSetup {
    /// `text` on a terminal, `json` otherwise, unless `format` says which.
    static func usesJSON(_ format: String) -> Bool {
        switch format {
        case "json": return true
        case "text": return false
        default: return isatty(STDERR_FILENO) == 0
        }
    }

    /// Log lines go to standard error; standard output carries the summary and `--json` documents.
    static func logger(level: String, format: String = "auto", label: String = "projector") -> Logger {
        let json = usesJSON(format)
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, logLevel: logLevel) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
