import Logging

enum LogSetup {
    /// Log lines go to standard error; standard output carries the summary and `--json` documents.
    static func logger(level: String, label: String = "projector") -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: level) ?? .info
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: level) ?? .info
        return logger
    }
}
