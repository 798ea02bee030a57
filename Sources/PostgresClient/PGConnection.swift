import CLibPQ
import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// A synchronous connection to PostgreSQL through libpq, owned by one task at a time (not `Sendable`).
///
/// Every call waits for the server's answer; `roundTrips` counts those waits, so a pipeline of many
/// statements shows as one.
public final class PGConnection {
    var handle: OpaquePointer?
    /// The server process serving this connection (for `pg_stat_activity`, `pg_terminate_backend`).
    public let backendPID: Int32
    /// How many times this connection has waited for the server (a statement, a prepare, a pipeline's sync).
    public internal(set) var roundTrips = 0
    /// The SQL of statements prepared on this connection, by name, for error messages.
    var preparedSQL: [String: String] = [:]

    public struct Options: Sendable {
        public var applicationName = "projector"
        public var connectTimeoutSeconds = 10
        /// TCP keepalives, so a connection to a vanished server fails instead of waiting forever.
        public var keepalivesIdleSeconds = 30
        public var keepalivesIntervalSeconds = 10
        public var keepalivesCount = 3

        public init() {}
    }

    /// Connects with a libpq connection string (`host=… dbname=…`) or a `postgres://` URL; what it
    /// leaves out comes from the environment (`PGHOST`, `PGPASSFILE`, …). Settings given in
    /// `conninfo` win over `options`. Errors never repeat the connection string or a password.
    public init(conninfo: String, options: Options = Options()) throws(PGError) {
        let secrets = PGConnectionString.passwords(in: conninfo)
        if PGConnectionString.isExpanded(conninfo), case .failure(let failure) = PGConnectionString.parse(conninfo) {
            throw PGError(
                kind: .invalidConnectionString,
                message:
                    "the connection string does not parse: \(PGConnectionString.withoutQuotedText(failure.message))")
        }
        // Later entries override earlier ones, and `dbname` expands to the whole string: the
        // defaults come first so that the string's own settings win.
        let settings: [(String, String)] = [
            ("application_name", options.applicationName),
            ("client_encoding", "UTF8"),
            ("connect_timeout", String(options.connectTimeoutSeconds)),
            ("keepalives", "1"),
            ("keepalives_idle", String(options.keepalivesIdleSeconds)),
            ("keepalives_interval", String(options.keepalivesIntervalSeconds)),
            ("keepalives_count", String(options.keepalivesCount)),
            ("dbname", conninfo),
        ]
        let connection = withCStrings(settings.map(\.0) + [nil]) { keywords in
            withCStrings(settings.map(\.1) + [nil]) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let raw = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            let message = PGConnectionString.scrub(Self.oneLine(raw), secrets: secrets)
            throw PGError(kind: Self.connectFailureKind(message), message: message)
        }
        handle = connection
        backendPID = PQbackendPID(connection)
        // libpq prints notices ("table … does not exist, skipping") to stderr unless told otherwise.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection; later calls fail with `connectionLost`.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Whether the connection is open and not broken.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Runs one or more statements separated by semicolons (the simple protocol, no parameters).
    /// Outside a transaction they run as one implicit transaction.
    public func execute(_ sql: String) throws(PGError) {
        let connection = try open()
        roundTrips += 1
        _ = try check(PQexec(connection, sql), sql: sql)
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …; nil is NULL) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PGError) -> PGResult {
        let connection = try open()
        roundTrips += 1
        let result = withCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try check(result, sql: sql)
    }

    /// Prepares a named statement on this connection (the server keeps it until the connection ends).
    public func prepare(name: String, sql: String) throws(PGError) {
        let connection = try open()
        roundTrips += 1
        _ = try check(PQprepare(connection, name, sql, 0, nil), sql: sql)
        preparedSQL[name] = sql
    }

    /// Runs a statement prepared with `prepare(name:sql:)`.
    @discardableResult
    public func execute(prepared name: String, _ parameters: [String?] = []) throws(PGError) -> PGResult {
        let connection = try open()
        roundTrips += 1
        let result = withCStrings(parameters) { values in
            PQexecPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try check(result, sql: preparedSQL[name])
    }

    // MARK: - Internals

    func open() throws(PGError) -> OpaquePointer {
        guard let handle else { throw PGError(kind: .connectionLost, message: "the connection is closed") }
        // A connection lost in the middle of something (a pipeline's answers) stays lost: say so,
        // rather than whatever state it was left in ("not allowed in pipeline mode").
        if PQstatus(handle) == CONNECTION_BAD {
            throw PGError(kind: .connectionLost, message: "the connection to the server was lost")
        }
        return handle
    }

    /// Takes ownership of `result` and returns it when it succeeded, else throws its error.
    /// A COPY is only expected by `copyIn`; elsewhere it would leave the connection waiting for data.
    func check(_ result: OpaquePointer?, sql: String?, copyIn: Bool = false) throws(PGError) -> PGResult {
        guard let result else { throw connectionError(sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return PGResult(result)
        case PGRES_COPY_IN where copyIn:
            return PGResult(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            // Ends the COPY so that the connection stays usable.
            if let handle {
                _ = PQputCopyEnd(handle, "COPY is run with copyIn")
                while let rest = PQgetResult(handle) { PQclear(rest) }
            }
            throw PGError(kind: .other, message: "a COPY runs through copyIn, not as a plain statement", sql: sql)
        default:
            let error = self.error(from: result, sql: sql)
            PQclear(result)
            throw error
        }
    }

    /// The error a failed result carries; `connectionLost` whenever the connection broke with it.
    func error(from result: OpaquePointer, sql: String?) -> PGError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? Self.oneLine(String(cString: PQresultErrorMessage(result)))
        var kind = sqlState.map(PGError.kind(sqlState:)) ?? .other
        if let handle, PQstatus(handle) == CONNECTION_BAD { kind = .connectionLost }
        if sqlState == nil, Self.saysConnectionLost(message) { kind = .connectionLost }
        return PGError(
            kind: kind, sqlState: sqlState, message: message, detail: field("D"), hint: field("H"),
            position: field("P").flatMap { Int($0) }, sql: sql)
    }

    /// An error libpq reports on the connection rather than in a result.
    func connectionError(sql: String?) -> PGError {
        guard let handle else { return PGError(kind: .connectionLost, message: "the connection is closed") }
        let message = Self.oneLine(String(cString: PQerrorMessage(handle)))
        let kind: PGError.Kind =
            PQstatus(handle) == CONNECTION_BAD || Self.saysConnectionLost(message) ? .connectionLost : .other
        return PGError(kind: kind, message: message.isEmpty ? "no result from the server" : message, sql: sql)
    }

    /// libpq's own words for a connection that went away (it reports them without an SQLSTATE, and
    /// may not have marked the connection bad yet when the error arrives).
    static func saysConnectionLost(_ message: String) -> Bool {
        [
            "server closed the connection unexpectedly", "no connection to the server",
            "could not receive data from server", "could not send data to server", "connection to server was lost",
            "SSL SYSCALL error: EOF detected",
        ].contains { message.contains($0) }
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    package static func connectFailureKind(_ message: String) -> PGError.Kind {
        let authentication = [
            "password authentication failed", "no password supplied", "authentication failed", "pg_hba.conf",
            "SCRAM", "password is required",
        ]
        if authentication.contains(where: { message.contains($0) }) { return .authenticationFailed }
        if message.contains("role \"") && message.contains("does not exist") { return .authenticationFailed }
        let unreachable = [
            "Connection refused", "timeout expired", "could not translate host name", "No such file or directory",
            "Network is unreachable", "No route to host", "the database system is starting up",
            "the database system is shutting down", "could not connect",
            // A server recovering after a crash: "not yet accepting connections", "in recovery mode".
            "the database system is not yet accepting connections", "the database system is in recovery mode",
        ]
        if unreachable.contains(where: { message.contains($0) }) { return .connectionRefused }
        return .other
    }
}

/// Calls `body` with a C array of copies of `strings` (nil stays a null pointer), valid during the call.
func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { $0.flatMap { strdup($0) } }
    defer { for copy in copies { free(copy) } }
    let pointers = copies.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
