/// An event line the scanner accepted: its bytes and where each field of the journal contract sits
/// in them, with accessors that turn a field's span into text.
///
/// A line scanned from `[UInt8]` or `ArraySlice<UInt8>` holds those bytes (arrays share their
/// storage, so nothing is copied). Inside this package a line can instead be a view of bytes owned
/// elsewhere, the journal cursor's read buffer or a batch's byte arena, which is how the runner
/// scans without copying each line: such a view is valid only while its owner keeps the bytes, so
/// only this package's code makes one (`EventScanner.scan(borrowing:)`).
public struct ScannedLine {
    /// Where each field sits, relative to the line's first byte.
    public let fields: EventFields
    @usableFromInline let storage: Storage

    @usableFromInline enum Storage {
        case owned(ArraySlice<UInt8>)
        case borrowed(UnsafeRawBufferPointer)
    }

    init(_ bytes: ArraySlice<UInt8>, fields: EventFields) {
        self.storage = .owned(bytes)
        self.fields = fields
    }

    package init(borrowing bytes: UnsafeRawBufferPointer, fields: EventFields) {
        self.storage = .borrowed(bytes)
        self.fields = fields
    }

    /// Calls `body` with the line's bytes; the pointer must not escape it.
    @inlinable
    package func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch storage {
        case .borrowed(let bytes): return body(bytes)
        case .owned(let bytes): return bytes.withUnsafeBytes(body)
        }
    }

    /// The line's length in bytes (without its line ending).
    @inlinable
    public var count: Int {
        switch storage {
        case .borrowed(let bytes): return bytes.count
        case .owned(let bytes): return bytes.count
        }
    }

    /// A copy of the line's bytes.
    @inlinable
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// A copy of the bytes of `span`.
    @inlinable
    public func bytes(of span: ByteSpan) -> [UInt8] {
        withBytes { Array($0[span.start..<span.end]) }
    }

    /// Whether the bytes of `span` are exactly `other`.
    @inlinable
    public func bytes(of span: ByteSpan, equal other: [UInt8]) -> Bool {
        guard span.count == other.count else { return false }
        return withBytes { raw in
            other.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: raw[span.start..<span.end]).elementsEqual($0) }
        }
    }

    /// The FNV-1a hash of the bytes of `span` (as they are in the line, escapes not decoded).
    @inlinable
    public func fingerprint(of span: ByteSpan) -> UInt64 {
        withBytes { Fingerprint.fnv1a(UnsafeRawBufferPointer(rebasing: $0[span.start..<span.end])) }
    }

    /// The text of `span`: a string's content with its escape sequences decoded, any other value's
    /// JSON text as it is in the line.
    @inlinable
    public func text(_ span: ByteSpan) -> String {
        withBytes { raw in raw.baseAddress.map { JSONText.decodeString($0, span) } ?? "" }
    }

    /// The text of a field, or nil when the event does not have it.
    @inlinable
    public func text(_ field: KeyPath<EventFields, ByteSpan?>) -> String? {
        fields[keyPath: field].map(text)
    }

    /// Finds the value at `path` (object keys, outermost first) inside the object at `object`:
    /// its kind and span (a string's content, any other value whole). A later duplicate key wins.
    @inlinable
    public func find(path: [String], in object: ByteSpan) -> (kind: JSONKind, span: ByteSpan)? {
        withBytes { raw in raw.baseAddress.flatMap { JSONText.find(path: path, in: $0, object: object) } }
    }
}
