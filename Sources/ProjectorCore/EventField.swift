/// The top-level fields of the journal contract (SPEC §2) that the scanner records.
enum EventField {
    case type, aggregateType, aggregateId, id, occurredAt, data, metadata

    /// Matches a key span against the known field names; escaped keys are decoded first.
    @inline(__always)
    static func match(_ key: ByteSpan, in bytes: UnsafePointer<UInt8>) -> EventField? {
        if key.escaped {
            let name = JSONText.decodeString(UnsafeRawPointer(bytes), key)
            return byName[name]
        }
        let p = bytes + key.start
        switch key.count {
        case 2: return equals(p, "id") ? .id : nil
        case 4:
            if equals(p, "type") { return .type }
            return equals(p, "data") ? .data : nil
        case 8: return equals(p, "metadata") ? .metadata : nil
        case 10: return equals(p, "occurredAt") ? .occurredAt : nil
        case 11: return equals(p, "aggregateId") ? .aggregateId : nil
        case 13: return equals(p, "aggregateType") ? .aggregateType : nil
        default: return nil
        }
    }

    static let byName: [String: EventField] = [
        "type": .type, "aggregateType": .aggregateType, "aggregateId": .aggregateId, "id": .id,
        "occurredAt": .occurredAt, "data": .data, "metadata": .metadata,
    ]

    @inline(__always)
    static func equals(_ p: UnsafePointer<UInt8>, _ name: StaticString) -> Bool {
        let n = name.utf8CodeUnitCount
        let q = name.utf8Start
        for k in 0..<n where p[k] != q[k] { return false }
        return true
    }
}
