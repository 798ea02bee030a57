/// Parses the annotation-and-section format of a job file (SPEC §3).
///
/// ```sql
/// -- on: TEST_RUN_CREATED, TEST_RUN_UPDATED   key: aggregateId
/// -- on: TEST_RUN_RESULT_*                   key: data.testRunId
/// -- after: other_job
/// -- webhooks: qa-dashboard
/// -- apply: idempotent          (apply jobs whose statements may run twice, for `replay`)
/// -- refresh: whole             (only for a @refresh that does not use :key)
/// -- dialect: postgres          (SQL for PostgreSQL; SQLite's when absent)
/// -- @setup
/// CREATE TABLE IF NOT EXISTS …;
/// -- @refresh
/// DELETE FROM … WHERE id = :key; INSERT INTO … WHERE id = :key;
/// -- @refresh_batch             (optional: the same for all of a batch's keys at once)
/// DELETE FROM … WHERE id IN (SELECT key FROM batch_keys); INSERT INTO … WHERE id IN (…);
/// -- @keys
/// SELECT id FROM …
/// ```
public enum JobFileParser {
    static let sections: Set<String> = ["setup", "refresh", "apply", "keys", batchSection]
    /// The optional section that refreshes all of a batch's keys in one pass.
    public static let batchSection = "refresh_batch"
    /// The temporary table that holds a batch's keys while `@refresh_batch` runs, one per row in
    /// its column `key`.
    public static let batchKeysTable = "batch_keys"
    static let annotations: Set<String> = ["on", "after", "webhooks", "apply", "refresh", "dialect"]

    /// Parses one job file; `name` is the job's name (its file name without `.sql`).
    public static func parse(name: String, file: String, text: String) throws(JobFileErrors) -> JobDefinition {
        var errors: [JobFileError] = []
        func fail(_ line: Int, _ message: String) {
            errors.append(JobFileError(file: file, line: line, message: message))
        }

        if !isValidJobName(name) {
            fail(1, "job name '\(name)' must use only letters, digits, '_' and '-' (it comes from the file name)")
        }
        var subscriptions: [Subscription] = []
        var after: [String] = []
        var afterLines: [String: Int] = [:]
        var webhooks: [String] = []
        var idempotentLine: Int?
        var webhookLines: [String: Int] = [:]
        var refreshesWhole: Int?
        var dialect: (SQLDialect, line: Int)?
        var bodies: [String: (lines: [Substring], line: Int, marker: Int)] = [:]
        var current: String?

        // "\r\n" is one Character in Swift: split on it too, or a file with CRLF endings is one line.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if let section = sectionMarker(trimmed) {
                guard sections.contains(section) else {
                    fail(
                        number,
                        "unknown section '@\(section)' (expected @setup, @refresh, @refresh_batch, @apply or @keys)")
                    current = nil
                    continue
                }
                if let earlier = bodies[section] {
                    fail(number, "section '@\(section)' appears twice (first at line \(earlier.marker))")
                }
                bodies[section] = ([], number + 1, number)
                current = section
                continue
            }
            if let (key, value) = annotation(trimmed), current == nil || annotations.contains(key) {
                guard annotations.contains(key) else {
                    fail(
                        number,
                        "unknown annotation '\(key):' (expected on:, after:, webhooks:, apply:, refresh: or dialect:)")
                    continue
                }
                if current != nil {
                    fail(number, "annotation '\(key):' must come before the first section")
                    continue
                }
                switch key {
                case "on":
                    do throws(JobFileError) {
                        subscriptions.append(try parseOn(value, file: file, line: number))
                    } catch {
                        errors.append(error)
                    }
                case "after":
                    for job in list(value) {
                        after.append(job)
                        if afterLines[job] == nil { afterLines[job] = number }
                    }
                case "webhooks":
                    for endpoint in list(value) {
                        webhooks.append(endpoint)
                        if webhookLines[endpoint] == nil { webhookLines[endpoint] = number }
                    }
                case "apply":
                    if value.trimmingSpaces == "idempotent" {
                        idempotentLine = number
                    } else {
                        fail(number, "'apply:' takes 'idempotent' (the @apply statements may run twice for an event)")
                    }
                case "refresh":
                    if list(value) == ["whole"] {
                        refreshesWhole = number
                    } else {
                        fail(
                            number, "'refresh:' takes one value, 'whole' (each refresh recomputes the whole read model)"
                        )
                    }
                case "dialect":
                    switch value.trimmingSpaces.lowercased() {
                    case "sqlite": dialect = (.sqlite, number)
                    case "postgres", "postgresql": dialect = (.postgres, number)
                    default:
                        fail(number, "'dialect:' takes 'sqlite' or 'postgres' (the database the SQL is written for)")
                    }
                default:
                    break
                }
                continue
            }
            if let section = current {
                bodies[section]?.lines.append(line)
            } else if !trimmed.isEmpty && !trimmed.hasPrefix("--") {
                fail(
                    number, "SQL outside a section: put it under '-- @setup', '-- @refresh', '-- @apply' or '-- @keys'")
            }
        }

        func section(_ name: String) -> SQLSection? {
            guard let body = bodies[name] else { return nil }
            return SQLSection(text: body.lines.joined(separator: "\n"), line: body.line)
        }
        let refresh = section("refresh")
        let apply = section("apply")
        let keys = section("keys")
        var mode = JobDefinition.Mode.refresh
        var body = SQLSection(text: "", line: 1)
        switch (refresh, apply) {
        case (let r?, nil):
            body = r
        case (nil, let a?):
            mode = .apply
            body = a
        case (_?, _?):
            fail(bodies["apply"]?.marker ?? 1, "a job has either '@refresh' or '@apply', not both")
        case (nil, nil):
            fail(1, "no '-- @refresh' or '-- @apply' section: the job would do nothing")
        }
        let marker = bodies[mode.rawValue]?.marker ?? 1
        if (refresh == nil) != (apply == nil) {
            if !hasSQL(body.text) {
                fail(marker, "section '@\(mode.rawValue)' holds no SQL statement")
            } else if mode == .refresh, refreshesWhole == nil,
                !usesParameter("key", in: body.text, dialect: dialect?.0 ?? .sqlite)
            {
                fail(
                    marker,
                    "'@refresh' never uses :key, so every refresh rewrites the same rows whichever key it runs for; "
                        + "use :key to refresh that key's rows, or declare '-- refresh: whole' if each refresh is "
                        + "meant to recompute the whole read model")
            }
        }
        if mode == .apply, let line = refreshesWhole {
            fail(line, "'refresh: whole' is for @refresh jobs; an @apply job need not use :key")
        }
        if mode == .refresh, let idempotentLine, refresh != nil {
            fail(idempotentLine, "'apply: idempotent' belongs to apply jobs; a refresh is idempotent by construction")
        }
        if mode == .apply, let marker = bodies["keys"]?.marker {
            fail(marker, "'@keys' belongs to refresh jobs; an apply job replays events instead")
        }
        if let keys, !hasSQL(keys.text) {
            fail(keys.line - 1, "section '@keys' holds no SQL query")
        }
        let batch = section(batchSection)
        if let batch, let marker = bodies[batchSection]?.marker {
            batchProblems(
                batch, marker: marker, mode: mode, refreshesWhole: refreshesWhole != nil, hasKeys: keys != nil,
                dialect: dialect?.0 ?? .sqlite
            )
            .forEach { fail($0.line, $0.message) }
        }
        if subscriptions.isEmpty {
            fail(1, "no '-- on:' line: the job listens to no event type")
        }
        if let line = afterLines[name] {
            fail(line, "job '\(name)' lists itself under 'after:'")
        }
        guard errors.isEmpty else { throw JobFileErrors(errors) }
        let setup = section("setup")
        var definition = JobDefinition(
            name: name, file: file, mode: mode, subscriptions: subscriptions, after: after, webhooks: webhooks,
            setup: setup, body: body, keys: keys, batchRefresh: batch, idempotentApply: idempotentLine != nil,
            fingerprint: fingerprint(
                mode: mode, subscriptions: subscriptions, after: after, setup: setup, body: body, keys: keys),
            textFingerprint: Fingerprint.hex(Fingerprint.fnv1a(text)),
            afterLines: afterLines, webhookLines: webhookLines, refreshesWhole: refreshesWhole != nil
        )
        if let dialect {
            definition.dialect = dialect.0
            definition.dialectLine = dialect.line
        }
        return definition
    }

    /// Whether `text` binds `:name` as the dialect reads it (on PostgreSQL, `:key::text` binds
    /// `:key` and casts it; SQLite would read one parameter named `key::text`).
    static func usesParameter(_ name: String, in text: String, dialect: SQLDialect) -> Bool {
        switch dialect {
        case .sqlite: return SQLText.usesParameter(name, in: text)
        case .postgres: return PostgresText.statements(text).contains { $0.parameters.contains(name) }
        }
    }

    /// The first `:name` parameter of `text` as the dialect reads it (PostgreSQL's `key::bigint` is
    /// a cast, not a parameter) and its line within `text`.
    static func firstParameter(in text: String, dialect: SQLDialect) -> (text: String, line: Int)? {
        switch dialect {
        case .sqlite:
            return SQLText.firstParameter(in: text)
        case .postgres:
            return PostgresText.statements(text).first { !$0.parameters.isEmpty }.map {
                (":" + $0.parameters[0], $0.line)
            }
        }
    }

    /// What is wrong with a `@refresh_batch` section that starts on the line after `marker`.
    static func batchProblems(
        _ batch: SQLSection, marker: Int, mode: JobDefinition.Mode, refreshesWhole: Bool, hasKeys: Bool,
        dialect: SQLDialect = .sqlite
    ) -> [(line: Int, message: String)] {
        if mode != .refresh {
            return [(marker, "'@refresh_batch' belongs to refresh jobs; an apply job applies each event in turn")]
        }
        if refreshesWhole {
            return [
                (
                    marker,
                    "'@refresh_batch' refreshes a batch's keys, but this job declares 'refresh: whole': its @refresh "
                        + "already recomputes the whole read model"
                )
            ]
        }
        guard hasSQL(batch.text) else { return [(marker, "section '@refresh_batch' holds no SQL statement")] }
        var problems: [(line: Int, message: String)] = []
        if let parameter = firstParameter(in: batch.text, dialect: dialect) {
            problems.append(
                (
                    batch.line + parameter.line,
                    "'@refresh_batch' takes no parameter ('\(parameter.text)'): it runs once for all of a batch's "
                        + "keys, which it reads from the table \(batchKeysTable)(key)"
                ))
        }
        if !SQLText.usesName(batchKeysTable, in: batch.text) {
            problems.append(
                (
                    marker,
                    "'@refresh_batch' never reads \(batchKeysTable), so it would refresh the same rows whichever keys "
                        + "a batch holds; select the batch's keys with '(SELECT key FROM \(batchKeysTable))'"
                ))
        }
        if !hasKeys {
            problems.append(
                (
                    marker,
                    "'@refresh_batch' needs a '@keys' section, so that 'projector verify' can check it against "
                        + "@refresh key by key"
                ))
        }
        return problems
    }

    /// A hash of what a job does to its read model: its mode, the events and keys it listens to,
    /// the jobs it runs after, and its SQL sections with comments and layout taken out. Editing a
    /// comment, re-indenting, or changing `webhooks:` (which does not touch the read model) keeps
    /// the fingerprint, so `status` does not ask for a rebuild that would only replay history.
    ///
    /// `@refresh_batch` is left out: it must leave the same rows as `@refresh` for the same keys
    /// (`verify` checks that they do), so adding, changing or removing it changes how fast a job
    /// runs, not what its read model holds, and asks for no rebuild.
    static func fingerprint(
        mode: JobDefinition.Mode, subscriptions: [Subscription], after: [String], setup: SQLSection?,
        body: SQLSection, keys: SQLSection?
    ) -> String {
        var canonical = "mode \(mode.rawValue)\n"
        for subscription in subscriptions {
            canonical += "on " + subscription.patterns.map(\.text).joined(separator: ",")
            canonical += " key " + subscription.key.description + "\n"
        }
        canonical += "after " + Set(after).sorted().joined(separator: ",") + "\n"
        for (name, section) in [("setup", setup), (mode.rawValue, body), ("keys", keys)] {
            guard let section else { continue }
            canonical += "@\(name)\n" + SQLText.normalized(section.text) + "\n"
        }
        return "v2:" + Fingerprint.hex(Fingerprint.fnv1a(canonical))
    }

    public static func isValidJobName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isNameByte($0) }
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    /// `-- @name …` → `name` (a `-` is part of the name, so `@refresh-batch` is not `@refresh`).
    static func sectionMarker(_ line: Substring) -> String? {
        guard line.hasPrefix("--") else { return nil }
        let rest = line.dropFirst(2).drop { $0 == " " || $0 == "\t" }
        guard rest.hasPrefix("@") else { return nil }
        return String(rest.dropFirst().prefix { $0.isLetter || $0 == "_" || $0 == "-" })
    }

    /// `-- word: value` with a lowercase one-word key → (`word`, `value`). Free comments such as
    /// `-- Note: …` start with a capital and are left alone.
    static func annotation(_ line: Substring) -> (String, Substring)? {
        guard line.hasPrefix("--") else { return nil }
        let rest = line.dropFirst(2).drop { $0 == " " || $0 == "\t" }
        let key = rest.prefix { ($0 >= "a" && $0 <= "z") || $0 == "_" }
        guard !key.isEmpty else { return nil }
        let after = rest.dropFirst(key.count)
        guard after.hasPrefix(":") else { return nil }
        return (String(key), after.dropFirst())
    }

    static func list(_ value: Substring) -> [String] {
        value.split { $0 == "," || $0 == " " || $0 == "\t" }.map(String.init)
    }

    /// `A, B_*   key: data.x` → a subscription.
    static func parseOn(_ value: Substring, file: String, line: Int) throws(JobFileError) -> Subscription {
        var typesPart = value
        var key = KeySource.aggregateId
        if let keyStart = value.firstRange(of: "key:") {
            typesPart = value[..<keyStart.lowerBound]
            let keyText = value[keyStart.upperBound...].trimmingSpaces
            guard !keyText.isEmpty else {
                throw JobFileError(file: file, line: line, message: "'key:' needs 'aggregateId' or a 'data.' path")
            }
            if keyText == "aggregateId" {
                key = .aggregateId
            } else if keyText.hasPrefix("data.") {
                let path = keyText.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard path.allSatisfy({ !$0.isEmpty && !$0.contains(where: { $0 == " " || $0 == "\t" }) }) else {
                    throw JobFileError(file: file, line: line, message: "invalid key path '\(keyText)'")
                }
                key = .data(path)
            } else {
                throw JobFileError(
                    file: file, line: line,
                    message: "unknown key '\(keyText)' (expected 'aggregateId' or a path such as 'data.testRunId')"
                )
            }
        }
        let types = list(typesPart)
        guard !types.isEmpty else {
            throw JobFileError(file: file, line: line, message: "'on:' lists no event type")
        }
        for type in types
        where !type.utf8.allSatisfy({ isNameByte($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ".") }) {
            throw JobFileError(file: file, line: line, message: "invalid event type '\(type)'")
        }
        return Subscription(patterns: types.map(EventPattern.init), key: key, line: line)
    }

    /// Whether a section holds anything besides comments and whitespace.
    static func hasSQL(_ text: String) -> Bool {
        !SQLText.normalized(text).isEmpty
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    package var trimmingSpaces: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return s
    }
}
