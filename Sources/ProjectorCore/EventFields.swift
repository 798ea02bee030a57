/// What the scanner found in one event line: where each field the runner needs sits in the line's bytes.
///
/// Spans are relative to the first byte of the line. Strings point at their content (without quotes);
/// `data` and `metadata` point at the whole JSON value so apply jobs get the original bytes.
public struct EventFields: Sendable {
    public var type: ByteSpan?
    public var typeKind: JSONKind = .null
    public var aggregateType: ByteSpan?
    public var aggregateTypeKind: JSONKind = .null
    public var aggregateId: ByteSpan?
    public var aggregateIdKind: JSONKind = .null
    public var id: ByteSpan?
    public var idKind: JSONKind = .null
    public var occurredAt: ByteSpan?
    public var occurredAtKind: JSONKind = .null
    public var data: ByteSpan?
    public var dataKind: JSONKind = .null
    public var metadata: ByteSpan?
    public var metadataKind: JSONKind = .null

    public init() {}
}
