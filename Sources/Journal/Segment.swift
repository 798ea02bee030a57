/// One file of the journal and the global position of its first byte.
public struct Segment: Sendable, Equatable {
    public var start: Int
    public var path: String
    public var size: Int

    public init(start: Int, path: String, size: Int) {
        self.start = start
        self.path = path
        self.size = size
    }

    public var end: Int { start + size }

    /// The file name of a segment starting at `position`: twenty digits, zero-padded.
    public static func fileName(for position: Int) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".jsonl"
    }

    /// The start position encoded in a segment file name, or nil when the name is not a segment's.
    public static func position(fromFileName name: String) -> Int? {
        guard name.hasSuffix(".jsonl") else { return nil }
        let digits = name.dropLast(6)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}
