/// A half-open range of bytes inside one journal line, with what the scanner learned about it.
public struct ByteSpan: Sendable, Equatable {
    public var start: Int
    public var end: Int
    /// For strings: the content (between the quotes) holds at least one escape sequence.
    public var escaped: Bool

    public init(start: Int, end: Int, escaped: Bool = false) {
        self.start = start
        self.end = end
        self.escaped = escaped
    }

    public var count: Int { end - start }
}

/// The kind of JSON value a field held.
public enum JSONKind: UInt8, Sendable {
    case string, integer, number, object, array, bool, null
}
