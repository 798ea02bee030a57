package import ProjectorCore

/// Binds an event's fields to a job statement's named parameters and runs it.
///
/// Plain strings and the `data`/`metadata` JSON are bound straight from the line's bytes
/// (`SQLITE_STATIC`), so the hot path copies nothing; only escaped strings are decoded.
package enum EventBinder {
    /// Runs every statement of an apply job for one event.
    package static func apply(
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
    package static func refresh(_ statements: [BoundStatement], key: String) throws(SQLiteError) {
        for bound in statements {
            let index = bound.index(.key)
            if index != 0 { try bindKey(key, bound.statement, index) }
            try bound.statement.run()
        }
    }

    /// Keys that are canonical integers are bound as integers, so they meet INTEGER keys in indexes.
    @inline(__always)
    static func bindKey(_ key: String, _ statement: Statement, _ index: Int32) throws(SQLiteError) {
        if let value = KeyOrder.canonicalInteger(key) {
            try statement.bind(int: value, at: index)
        } else {
            try statement.bind(text: key, at: index)
        }
    }

    @inline(__always)
    static func bindString(
        _ span: ByteSpan?, _ kind: JSONKind, _ line: UnsafeRawPointer, _ statement: Statement, _ index: Int32
    ) throws(SQLiteError) {
        try bind(FieldText.string(span, kind, in: line), statement, index)
    }

    /// Binds a JSON value as its original text (strings keep their quotes), usable with SQLite's JSON functions.
    @inline(__always)
    static func bindJSON(
        _ span: ByteSpan?, _ kind: JSONKind, _ line: UnsafeRawPointer, _ statement: Statement, _ index: Int32
    ) throws(SQLiteError) {
        try bind(FieldText.json(span, kind, in: line), statement, index)
    }

    /// Binds a field's text: borrowed from the line when it can be.
    @inline(__always)
    static func bind(_ text: FieldText, _ statement: Statement, _ index: Int32) throws(SQLiteError) {
        switch text {
        case .null: try statement.bindNull(at: index)
        case .bytes(let bytes): try statement.bind(borrowedText: bytes, at: index)
        case .decoded(let string): try statement.bind(text: string, at: index)
        }
    }
}
