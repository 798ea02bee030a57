/// What identifies the bytes just before a checkpoint, so a later run can tell whether the journal
/// under the checkpoint is still the one that was read (SPEC §2, "the cursor is checked, not trusted").
public struct CursorAnchor: Sendable, Equatable {
    /// The checkpoint: the global position of the next byte to read.
    public var position: Int
    /// Where the hashed bytes start (at most `CursorAnchor.span` bytes before `position`, same segment).
    public var start: Int
    /// FNV-1a of the bytes `start..<position`.
    public var hash: UInt64
    /// The segment file holding those bytes.
    public var segment: String

    public static let span = 256
    public static let origin = CursorAnchor(position: 0, start: 0, hash: 0, segment: "")

    public init(position: Int, start: Int, hash: UInt64, segment: String) {
        self.position = position
        self.start = start
        self.hash = hash
        self.segment = segment
    }
}
