public import ProjectorCore

extension RunnerStore {
    /// Why opening failed: the error, and which attached database it concerns (nil: the store's own).
    public struct OpenFailure: Error {
        public var error: StoreError
        public var attachment: Attachment?
    }

    /// Opens (creating it when missing) the database at `path` and attaches `attachments`. An
    /// attachment is read once, so a file that is not a database is told apart here.
    public static func open(
        path: String, options: Database.Options, attachments: [Attachment] = []
    ) throws(OpenFailure) -> RunnerStore {
        let db: Database
        do throws(SQLiteError) {
            db = try Database(path: path, options: options)
        } catch {
            throw OpenFailure(error: error.storeError, attachment: nil)
        }
        for attachment in attachments {
            let uri = "file:" + uriEscape(attachment.path) + (attachment.readOnly ? "?mode=ro" : "")
            do throws(SQLiteError) {
                try db.run("ATTACH DATABASE ? AS \(quote(attachment.name))", [.text(uri)])
                // ATTACH does not read the file: a query does, and tells a non-database apart.
                _ = try db.rows("SELECT count(*) FROM \(quote(attachment.name)).sqlite_master")
            } catch {
                throw OpenFailure(error: error.storeError, attachment: attachment)
            }
        }
        return RunnerStore(db: db)
    }

    /// The name a scratch database (a rebuild's, `verify --sample`'s) attaches the live database
    /// under, so that other jobs' tables stay readable there.
    public static let liveSchema = "projector_live"

    /// A path as a `file:` URI's path: `?`, `#` and `%` escaped.
    public static func uriEscape(_ path: String) -> String {
        var out = ""
        for c in path.unicodeScalars {
            switch c {
            case "?", "#", "%": out += "%" + String(c.value, radix: 16, uppercase: true)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
