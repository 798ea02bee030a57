public import ProjectorCore
public import SQLiteStore

/// Binds an event's fields to a job statement's named parameters and runs it.
///
/// Plain strings and the `data`/`metadata` JSON are bound straight from the line's bytes
/// (`SQLITE_STATIC`), so the hot path copies nothing; only escaped strings are decoded.
public enum EventBinder {
    /// Runs every statement of an apply job for one event.
    public static func apply(
        _ statements: [BoundStatement], fields: EventFields, line: UnsafeRawPointer, position: Int, key: String
    ) throws(SQLiteError) {
        for bound in statements {
            let statement = bound.statement
            var index = bound.index(.key)
            if index != 0 { try bindKey(key, statement, index) }
            index = bound.index(.position)
            if index != 0 { try statement.bind(int: position, at: index) }
            index = bound.index(.type)
            if index != 0 { try bindString(fields.type, fields.typeKind, line, statement, index) }
            index = bound.index(.aggregateType)
            if index != 0 { try bindString(fields.aggregateType, fields.aggregateTypeKind, line, statement, index) }
            index = bound.index(.aggregateId)
            if index != 0 {
                if fields.aggregateIdKind == .integer, let span = fields.aggregateId,
                    let value = Int(JSONText.decodeString(line, span))
                {
                    try statement.bind(int: value, at: index)
                } else {
                    try bindString(fields.aggregateId, fields.aggregateIdKind, line, statement, index)
                }
            }
            index = bound.index(.id)
            if index != 0 { try bindString(fields.id, fields.idKind, line, statement, index) }
            index = bound.index(.occurredAt)
            if index != 0 { try bindString(fields.occurredAt, fields.occurredAtKind, line, statement, index) }
            index = bound.index(.data)
            if index != 0 { try bindJSON(fields.data, fields.dataKind, line, statement, index) }
            index = bound.index(.metadata)
            if index != 0 { try bindJSON(fields.metadata, fields.metadataKind, line, statement, index) }
            try statement.run()
        }
    }

    /// Runs every statement of a refresh job for one key.
    public static func refresh(_ statements: [BoundStatement], key: String) throws(SQLiteError) {
        for bound in statements {
            let index = bound.index(.key)
            if index != 0 { try bindKey(key, bound.statement, index) }
            try bound.statement.run()
        }
    }

    /// Keys that are canonical integers are bound as integers, so they meet INTEGER keys in indexes.
    @inline(__always)
    static func bindKey(_ key: String, _ statement: Statement, _ index: Int32) throws(SQLiteError) {
        if let value = canonicalInteger(key) {
            try statement.bind(int: value, at: index)
        } else {
            try statement.bind(text: key, at: index)
        }
    }

    /// The integer `text` spells in canonical form (no sign but `-`, no leading zero), if any.
    static func canonicalInteger(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard let first = utf8.first, utf8.count <= 18 else { return nil }
        let digits = first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        guard let lead = digits.first, lead >= UInt8(ascii: "0"), lead <= UInt8(ascii: "9") else { return nil }
        if lead == UInt8(ascii: "0") && (digits.count > 1 || first == UInt8(ascii: "-")) { return nil }
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    @inline(__always)
    static func bindString(
        _ span: ByteSpan?, _ kind: JSONKind, _ line: UnsafeRawPointer, _ statement: Statement, _ index: Int32
    ) throws(SQLiteError) {
        guard let span, kind != .null else {
            try statement.bindNull(at: index)
            return
        }
        if span.escaped {
            try statement.bind(text: JSONText.decodeString(line, span), at: index)
        } else {
            try statement.bind(
                borrowedText: UnsafeRawBufferPointer(start: line + span.start, count: span.count), at: index)
        }
    }

    /// Binds a JSON value as its original text (strings keep their quotes), usable with SQLite's JSON functions.
    @inline(__always)
    static func bindJSON(
        _ span: ByteSpan?, _ kind: JSONKind, _ line: UnsafeRawPointer, _ statement: Statement, _ index: Int32
    ) throws(SQLiteError) {
        guard let span else {
            try statement.bindNull(at: index)
            return
        }
        let start = kind == .string ? span.start - 1 : span.start
        let end = kind == .string ? span.end + 1 : span.end
        try statement.bind(borrowedText: UnsafeRawBufferPointer(start: line + start, count: end - start), at: index)
    }

    /// Sorts keys so integer keys come in numeric order (page-cache locality for their rows).
    static func sorted(_ keys: some Sequence<String>) -> [String] {
        keys.map { (canonicalInteger($0), $0) }.sorted { a, b in
            switch (a.0, b.0) {
            case (let x?, let y?): return x < y
            case (nil, nil): return a.1 < b.1
            case (_?, nil): return true
            case (nil, _?): return false
            }
        }.map(\.1)
    }
}
