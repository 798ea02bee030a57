import ProjectorCore

/// Every input is a journal line. The scanner must never crash, and what it accepts must hold
/// together: spans inside the line, required fields present, data paths resolvable.
func fuzzTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    guard case .success(let event) = EventScanner().scan(line) else { return 0 }
    let fields = event.fields
    for span in [fields.type, fields.aggregateType, fields.aggregateId, fields.id, fields.data, fields.metadata] {
        guard let span else { continue }
        precondition(span.start >= 0 && span.start <= span.end && span.end <= size, "span outside the line")
        _ = event.text(span)
    }
    precondition(fields.type != nil && fields.aggregateType != nil && fields.aggregateId != nil)
    if let data = fields.data, fields.dataKind == .object {
        _ = event.find(path: ["a"], in: data)
        _ = event.find(path: ["testRunId"], in: data)
        _ = event.find(path: ["a", "b", "c"], in: data)
    }
    return 0
}
