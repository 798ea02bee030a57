import ProjectorCore

/// Every input is a journal line. The scanner must never crash, and what it accepts must hold
/// together: spans inside the line, required fields present, data paths resolvable.
func fuzzTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = UnsafeRawBufferPointer(start: data, count: size)
    guard case .success(let fields) = EventScanner().scan(line), let base = line.baseAddress else { return 0 }
    for span in [fields.type, fields.aggregateType, fields.aggregateId, fields.id, fields.data, fields.metadata] {
        guard let span else { continue }
        precondition(span.start >= 0 && span.start <= span.end && span.end <= size, "span outside the line")
        _ = JSONText.decodeString(base, span)
    }
    precondition(fields.type != nil && fields.aggregateType != nil && fields.aggregateId != nil)
    if let data = fields.data, fields.dataKind == .object {
        _ = JSONText.find(path: ["a"], in: base, object: data)
        _ = JSONText.find(path: ["testRunId"], in: base, object: data)
        _ = JSONText.find(path: ["a", "b", "c"], in: base, object: data)
    }
    return 0
}
