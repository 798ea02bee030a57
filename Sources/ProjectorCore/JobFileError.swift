/// A problem in a job file, reported as `file:line: message` (SPEC §3).
public struct JobFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// All the problems found in a set of job files.
public struct JobFileErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [JobFileError]

    public init(_ errors: [JobFileError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
