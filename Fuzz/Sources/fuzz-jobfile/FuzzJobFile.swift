import ProjectorCore

/// Every input is a job file. The parser must never crash; what it accepts must be a job.
func fuzzTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // The SQL reader must take any text, not only the sections of files the parser accepts.
    _ = SQLText.normalized(text)
    _ = SQLText.usesParameter("key", in: text)
    if let job = try? JobFileParser.parse(name: "fuzz", file: "fuzz.sql", text: text) {
        precondition(!job.subscriptions.isEmpty)
        for subscription in job.subscriptions {
            for pattern in subscription.patterns { _ = pattern.matches("TEST_RUN_CREATED") }
        }
        _ = try? JobCatalog([job])
    }
    return 0
}
