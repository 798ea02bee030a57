public import ProjectorCore

/// What a job's `@setup` would create today against what the database holds for its tables.
///
/// `@setup` is idempotent DDL (`CREATE … IF NOT EXISTS`), so removing a trigger or a CHECK
/// constraint from it leaves the old one in the database, where it keeps failing keys however
/// often they are retried. Comparing with a scratch run of `@setup` names such leftovers.
public enum SetupDrift {
    public typealias Finding = SetupDriftFinding

    /// The differences for one job; none when `@setup` cannot run on its own (it refers to an
    /// attached database) or the job's tables do not exist yet.
    public static func findings(for definition: JobDefinition, in db: Database) -> [Finding] {
        guard let setup = definition.setup, let scratch = try? Database(path: ":memory:"),
            (try? scratch.executeAll(setup.text)) != nil
        else { return [] }
        let query = "SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql IS NOT NULL"
        guard let expected = try? scratch.rows(query), let live = try? db.rows(query) else { return [] }
        func key(_ row: [SQLValue]) -> String { (row[0].string ?? "") + " " + (row[1].string ?? "") }
        let wanted = Dictionary(expected.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        let tables = Set(expected.filter { $0[0].string == "table" }.compactMap { $0[1].string })
        var findings: [Finding] = []
        func note(_ message: String) {
            findings.append(
                Finding(job: definition.name, file: definition.file, line: max(setup.line - 1, 1), message: message))
        }
        for row in live {
            guard let type = row[0].string, let name = row[1].string, let table = row[2].string,
                tables.contains(table)
            else { continue }
            guard let want = wanted[key(row)] else {
                note(
                    "\(type) '\(name)' on table '\(table)' is in the database but not in @setup (left by an earlier "
                        + "definition?): drop it, or `projector rebuild \(definition.name)` to recreate the tables "
                        + "from @setup")
                continue
            }
            if normalized(want[3].string) != normalized(row[3].string) {
                note(
                    "\(type) '\(name)' in the database differs from @setup (CREATE … IF NOT EXISTS leaves an existing "
                        + "one as it is): `projector rebuild \(definition.name)` recreates it")
            }
        }
        return findings
    }

    /// SQL text with runs of whitespace collapsed, so layout alone is no difference.
    static func normalized(_ sql: String?) -> String {
        (sql ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
            .joined(separator: " ")
    }
}
