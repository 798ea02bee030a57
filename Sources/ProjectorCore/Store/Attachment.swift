/// A database ATTACHed to the jobs' connection under a schema name.
public struct Attachment: Sendable, Equatable {
    public var name: String
    public var path: String
    public var readOnly: Bool

    public init(name: String, path: String, readOnly: Bool = true) {
        self.name = name
        self.path = path
        self.readOnly = readOnly
    }

    /// Parses `name=path` (read-only) or `name=path:rw`.
    public init?(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        name = String(argument[..<equals])
        var rest = String(argument[argument.index(after: equals)...])
        readOnly = true
        if rest.hasSuffix(":rw") {
            rest.removeLast(3)
            readOnly = false
        }
        path = rest
        guard !name.isEmpty, !path.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            return nil
        }
    }
}
