import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// A statement's result: its rows (in text format) and its command tag. Rows are read by index
/// (`result[0].int(1)`) or iterated; a column is read as the type the caller expects.
public final class PGResult: RandomAccessCollection {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQclear(handle)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(PQntuples(handle)) }
    public subscript(row: Int) -> PGRow { PGRow(result: self, row: Int32(row)) }

    public var columnCount: Int { Int(PQnfields(handle)) }

    public func columnName(_ column: Int) -> String {
        String(cString: PQfname(handle, Int32(column)))
    }

    public func columnIndex(named name: String) -> Int? {
        let index = PQfnumber(handle, name)
        return index < 0 ? nil : Int(index)
    }

    /// The command tag ("INSERT 0 3", "SELECT 2", "BEGIN").
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    /// The rows an INSERT, UPDATE, DELETE, MERGE, SELECT, COPY … affected; nil for other commands.
    public var affectedRows: Int? { Int(String(cString: PQcmdTuples(handle))) }
}

/// One row of a `PGResult`. Each reader returns nil for NULL.
public struct PGRow {
    let result: PGResult
    let row: Int32

    public func isNull(_ column: Int) -> Bool {
        PQgetisnull(result.handle, row, Int32(column)) == 1
    }

    public func string(_ column: Int) -> String? {
        guard !isNull(column) else { return nil }
        return String(cString: PQgetvalue(result.handle, row, Int32(column)))
    }

    public func int(_ column: Int) -> Int? { string(column).flatMap { Int($0) } }

    public func double(_ column: Int) -> Double? { string(column).flatMap { Double($0) } }

    /// A boolean column (`t` / `f`).
    public func bool(_ column: Int) -> Bool? {
        switch string(column) {
        case "t"?: return true
        case "f"?: return false
        default: return nil
        }
    }

    /// A `bytea` column, decoded from its text form (`\x…` hex).
    public func bytes(_ column: Int) -> [UInt8]? {
        guard !isNull(column), let text = PQgetvalue(result.handle, row, Int32(column)) else { return nil }
        var length = 0
        let raw = text.withMemoryRebound(to: UInt8.self, capacity: 1) { PQunescapeBytea($0, &length) }
        guard let raw else { return nil }
        defer { PQfreemem(raw) }
        return Array(UnsafeBufferPointer(start: raw, count: length))
    }

    /// A column by name (nil when there is no such column or the value is NULL).
    public func string(_ name: String) -> String? {
        result.columnIndex(named: name).flatMap { string($0) }
    }
}

/// `bytea` in its text form (`\x` and two hex digits a byte), as a text parameter or a `COPY`
/// field takes it; `PGRow.bytes` reads it back.
public enum PGBytea {
    public static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
