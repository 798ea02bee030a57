/// A SQLite result code by name (https://sqlite.org/rescode.html), as GRDB's `ResultCode`: a primary
/// code in the low byte, an extended code adding detail above it (`.constraintUnique` is a
/// `.constraint`). Compare `error.code` with primary codes, `error.extendedCode` with extended ones.
public struct ResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The primary code of an extended one (itself for a primary code).
    public var primary: ResultCode { ResultCode(rawValue: rawValue & 0xFF) }

    public var description: String { "\(rawValue)" }

    // Primary result codes.
    public static let ok = ResultCode(rawValue: 0)
    public static let error = ResultCode(rawValue: 1)
    public static let `internal` = ResultCode(rawValue: 2)
    public static let perm = ResultCode(rawValue: 3)
    public static let abort = ResultCode(rawValue: 4)
    public static let busy = ResultCode(rawValue: 5)
    public static let locked = ResultCode(rawValue: 6)
    public static let nomem = ResultCode(rawValue: 7)
    public static let readonly = ResultCode(rawValue: 8)
    public static let interrupt = ResultCode(rawValue: 9)
    public static let ioerr = ResultCode(rawValue: 10)
    public static let corrupt = ResultCode(rawValue: 11)
    public static let notfound = ResultCode(rawValue: 12)
    public static let full = ResultCode(rawValue: 13)
    public static let cantopen = ResultCode(rawValue: 14)
    public static let `protocol` = ResultCode(rawValue: 15)
    public static let empty = ResultCode(rawValue: 16)
    public static let schema = ResultCode(rawValue: 17)
    public static let toobig = ResultCode(rawValue: 18)
    public static let constraint = ResultCode(rawValue: 19)
    public static let mismatch = ResultCode(rawValue: 20)
    public static let misuse = ResultCode(rawValue: 21)
    public static let nolfs = ResultCode(rawValue: 22)
    public static let auth = ResultCode(rawValue: 23)
    public static let format = ResultCode(rawValue: 24)
    public static let range = ResultCode(rawValue: 25)
    public static let notadb = ResultCode(rawValue: 26)
    public static let notice = ResultCode(rawValue: 27)
    public static let warning = ResultCode(rawValue: 28)

    // Extended result codes projector tells apart.
    public static let ioerrRead = ResultCode(rawValue: 10 | 1 << 8)
    public static let ioerrWrite = ResultCode(rawValue: 10 | 3 << 8)
    public static let ioerrFsync = ResultCode(rawValue: 10 | 4 << 8)
    public static let ioerrAccess = ResultCode(rawValue: 10 | 13 << 8)
    public static let readonlyDirectory = ResultCode(rawValue: 8 | 6 << 8)
    public static let cantopenIsdir = ResultCode(rawValue: 14 | 2 << 8)
    public static let constraintCheck = ResultCode(rawValue: 19 | 1 << 8)
    public static let constraintForeignKey = ResultCode(rawValue: 19 | 3 << 8)
    public static let constraintNotNull = ResultCode(rawValue: 19 | 5 << 8)
    public static let constraintPrimaryKey = ResultCode(rawValue: 19 | 6 << 8)
    public static let constraintTrigger = ResultCode(rawValue: 19 | 7 << 8)
    public static let constraintUnique = ResultCode(rawValue: 19 | 8 << 8)
}
