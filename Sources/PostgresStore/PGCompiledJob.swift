import PostgresClient
import ProjectorCore

/// A job's statements prepared on the store's connection (PostgreSQL's dialect, `PostgresText`):
/// `:key` and the event's fields are sent as text parameters, `:data` and `:metadata` as `jsonb`.
final class PGCompiledJob: CompiledJobStatements {
    let definition: JobDefinition
    unowned let store: PGStore
    /// Each statement of the job's `@refresh` or `@apply`: its prepared name and what each `$n` is.
    let body: [Prepared]
    let keys: Prepared?
    let batch: [Prepared]?

    struct Prepared {
        var name: String
        var parameters: [JobParameter]
    }

    static let types = ["data": "jsonb", "metadata": "jsonb"]
    /// The temporary table `@refresh_batch` reads a batch's keys from (`key text`).
    static let batchTable = JobFileParser.batchKeysTable

    init(_ definition: JobDefinition, store: PGStore) throws(JobFileErrors) {
        self.definition = definition
        self.store = store
        var errors: [JobFileError] = []
        func prepare(_ section: SQLSection, label: String, allowed: [JobParameter]) -> [Prepared] {
            var prepared: [Prepared] = []
            for (index, statement) in PostgresText.statements(section.text, types: Self.types).enumerated() {
                let line = section.line + statement.line
                let parameters = statement.parameters.map { JobParameter(rawValue: $0) }
                if let index = parameters.firstIndex(where: { $0.map { !allowed.contains($0) } ?? true }) {
                    let unknown = statement.parameters[index]
                    let known = allowed.isEmpty ? "none" : allowed.map { ":" + $0.rawValue }.joined(separator: ", ")
                    errors.append(
                        JobFileError(
                            file: definition.file, line: line,
                            message: "unknown parameter ':\(unknown)' in @\(label) (available: \(known))"))
                    continue
                }
                let name = store.newStatementName(for: "\(definition.name)_\(label)_\(index)")
                do throws(PGError) {
                    try store.connection.execute("SAVEPOINT projector_prepare")
                    try store.connection.prepare(name: name, sql: statement.sql)
                    try store.connection.execute("RELEASE SAVEPOINT projector_prepare")
                    prepared.append(Prepared(name: name, parameters: parameters.compactMap { $0 }))
                } catch {
                    try? store.connection.execute("ROLLBACK TO SAVEPOINT projector_prepare")
                    errors.append(JobFileError(file: definition.file, line: line, message: error.message))
                }
            }
            return prepared
        }
        let body = prepare(
            definition.body, label: definition.mode.rawValue, allowed: JobParameter.allowed(in: definition.mode))
        if body.isEmpty && errors.isEmpty {
            errors.append(
                JobFileError(
                    file: definition.file, line: definition.body.line,
                    message: "section '@\(definition.mode.rawValue)' holds no SQL statement"))
        }
        var keys: Prepared?
        if let section = definition.keys {
            let statements = prepare(section, label: "keys", allowed: [])
            if statements.count == 1 {
                keys = statements[0]
            } else if errors.isEmpty {
                errors.append(
                    JobFileError(
                        file: definition.file, line: section.line, message: "'@keys' must be exactly one query"))
            }
        }
        var batch: [Prepared]?
        if let section = definition.batchRefresh {
            do throws(StoreError) {
                try store.createBatchKeysTable()
                batch = prepare(section, label: "refresh_batch", allowed: [])
            } catch {
                errors.append(
                    JobFileError(
                        file: definition.file, line: section.line - 1, message: "@refresh_batch: \(error.message)"))
            }
        }
        guard errors.isEmpty else { throw JobFileErrors(errors) }
        self.body = body
        self.keys = keys
        self.batch = batch
    }

    var refreshesInBatches: Bool { batch != nil }

    func refresh(key: String) throws(StoreError) {
        for statement in body { try store.send(.prepared(statement.name, [key])) }
    }

    func refresh(keys: [String]) throws(StoreError) {
        guard let batch else {
            for key in keys { try refresh(key: key) }
            return
        }
        try store.send(.sql(PGStore.createBatchKeysSQL, []))
        try store.send(.sql("DELETE FROM \(Self.batchTable)", []))
        try store.send(
            .sql("INSERT INTO \(Self.batchTable)(key) SELECT DISTINCT unnest($1::text[])", [PGStore.textArray(keys)]))
        for statement in batch { try store.send(.prepared(statement.name, [])) }
        try store.send(.sql("DELETE FROM \(Self.batchTable)", []))
    }

    func apply(_ event: EventLine, key: String) throws(StoreError) {
        for statement in body {
            try store.send(
                .prepared(statement.name, statement.parameters.map { Self.value(of: $0, event: event, key: key) }))
        }
    }

    func allKeys() throws(StoreError) -> [String] {
        guard let keys else { return [] }
        return try store.pg { () throws(PGError) in
            try store.connection.execute(prepared: keys.name).compactMap { $0.string(0) }
        }
    }

    /// An event's field as the text parameter `parameter` (nil is NULL): strings unescaped, `data`
    /// and `metadata` as their JSON text.
    static func value(of parameter: JobParameter, event: EventLine, key: String) -> String? {
        let fields = event.fields
        let base = event.base
        switch parameter {
        case .key: return key
        case .position: return "\(event.position)"
        case .id: return text(fields.id, fields.idKind, base)
        case .type: return text(fields.type, fields.typeKind, base)
        case .aggregateType: return text(fields.aggregateType, fields.aggregateTypeKind, base)
        case .aggregateId: return text(fields.aggregateId, fields.aggregateIdKind, base)
        case .occurredAt: return text(fields.occurredAt, fields.occurredAtKind, base)
        case .data: return json(fields.data, fields.dataKind, base)
        case .metadata: return json(fields.metadata, fields.metadataKind, base)
        }
    }

    static func text(_ span: ByteSpan?, _ kind: JSONKind, _ base: UnsafeRawPointer) -> String? {
        parameter(FieldText.string(span, kind, in: base))
    }

    static func json(_ span: ByteSpan?, _ kind: JSONKind, _ base: UnsafeRawPointer) -> String? {
        parameter(FieldText.json(span, kind, in: base))
    }

    /// A field's text as a text parameter (nil is NULL).
    static func parameter(_ text: FieldText) -> String? {
        switch text {
        case .null: nil
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        case .decoded(let string): string
        }
    }

    /// The tables a job's `@setup` creates (`CREATE [UNLOGGED] TABLE [IF NOT EXISTS] name`), as
    /// written there.
    static func tablesCreated(by definition: JobDefinition) -> [String] {
        guard let setup = definition.setup else { return [] }
        var tables: [String] = []
        for statement in PostgresText.statements(setup.text) {
            var words = statement.sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "(" })
                .map { String($0) }
            words.removeAll { $0.hasPrefix("--") }
            guard words.count >= 3, words[0].lowercased() == "create" else { continue }
            var index = 1
            if ["unlogged", "temp", "temporary"].contains(words[index].lowercased()) { index += 1 }
            guard index < words.count, words[index].lowercased() == "table" else { continue }
            index += 1
            if index + 2 < words.count, words[index].lowercased() == "if", words[index + 1].lowercased() == "not",
                words[index + 2].lowercased() == "exists"
            {
                index += 3
            }
            if index < words.count { tables.append(words[index]) }
        }
        return tables
    }
}

extension PGStore {
    /// The temporary table `@refresh_batch` statements read a batch's keys from.
    func createBatchKeysTable() throws(StoreError) {
        try execute(Self.createBatchKeysSQL)
    }

    static let createBatchKeysSQL = "CREATE TEMP TABLE IF NOT EXISTS \(PGCompiledJob.batchTable)(key text PRIMARY KEY)"

    /// `values` as a PostgreSQL array literal of text, each element quoted.
    static func textArray(_ values: [String]) -> String { textArray(values.map(Optional.some)) }

    /// `values` as a text array literal; nil is SQL's NULL.
    static func textArray(_ values: [String?]) -> String {
        var text = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            guard let value else {
                text += "NULL"
                continue
            }
            text += "\""
            for character in value {
                if character == "\"" || character == "\\" { text += "\\" }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}
