import CLibPQ

/// Rows for `COPY … FROM STDIN` in PostgreSQL's text format, buffered and sent in large chunks.
public final class PGCopyWriter {
    let connection: PGConnection
    let handle: OpaquePointer
    var buffer: [UInt8] = []
    static let chunkSize = 256 * 1024

    init(connection: PGConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
        buffer.reserveCapacity(Self.chunkSize)
    }

    /// Adds one row: each field in the table's column order (or the COPY's column list); nil is NULL.
    public func row(_ fields: [String?]) throws(PGError) {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: "\t")) }
            guard let field else {
                buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                continue
            }
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= Self.chunkSize { try flush() }
    }

    /// Adds bytes exactly as given (for data already in the COPY's format, text, CSV or binary).
    public func write(_ bytes: some Sequence<UInt8>) throws(PGError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    func flush() throws(PGError) {
        guard !buffer.isEmpty else { return }
        let sent = buffer.withUnsafeBytes { bytes in
            bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        }
        guard sent == 1 else { throw connection.connectionError(sql: nil) }
        buffer.removeAll(keepingCapacity: true)
    }
}

extension PGConnection {
    /// Runs `COPY … FROM STDIN` with the rows `body` writes and returns how many rows it copied.
    /// When `body` throws, the COPY is cancelled (the server rolls the statement back) and the error is rethrown.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (PGCopyWriter) throws(PGError) -> Void) throws(PGError) -> Int {
        let connection = try open()
        roundTrips += 1
        let start = try check(PQexec(connection, sql), sql: sql, copyIn: true)
        guard PQresultStatus(start.handle) == PGRES_COPY_IN else {
            throw PGError(kind: .other, message: "not a COPY … FROM STDIN statement", sql: sql)
        }
        let writer = PGCopyWriter(connection: self, handle: connection)
        var failure: PGError?
        do throws(PGError) {
            try body(writer)
            try writer.flush()
        } catch {
            failure = error
        }
        let ended = PQputCopyEnd(connection, failure == nil ? nil : "cancelled by the client")
        roundTrips += 1
        guard ended == 1, let end = PQgetResult(connection) else { throw failure ?? connectionError(sql: sql) }
        while let extra = PQgetResult(connection) { PQclear(extra) }
        let result: PGResult
        do throws(PGError) {
            result = try check(end, sql: sql)
        } catch {
            throw failure ?? error
        }
        if let failure { throw failure }
        return result.affectedRows ?? 0
    }
}
