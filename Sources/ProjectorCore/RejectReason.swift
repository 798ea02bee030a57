/// Why a journal line was not accepted as an event. Every reason is recorded with the line's position.
public enum RejectReason: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyLine
    case invalidJSON(offset: Int, message: String)
    case invalidUTF8(offset: Int)
    case tooDeep(offset: Int, limit: Int)
    case notAnObject
    case missingField(String)
    case wrongType(field: String, expected: String, found: JSONKind)
    case tooLong(length: Int, limit: Int)
    case unterminatedSegment(segment: String)
    case keyMissing(job: String, path: String)
    case keyNotScalar(job: String, path: String, found: JSONKind)

    public var description: String {
        switch self {
        case .emptyLine:
            return "empty line"
        case .invalidJSON(let offset, let message):
            return "invalid JSON at byte \(offset) of the line: \(message)"
        case .invalidUTF8(let offset):
            return "invalid UTF-8 at byte \(offset) of the line"
        case .tooDeep(let offset, let limit):
            return "JSON nested deeper than \(limit) levels at byte \(offset) of the line"
        case .notAnObject:
            return "the line is valid JSON but not an object"
        case .missingField(let name):
            return "required field \"\(name)\" is missing"
        case .wrongType(let field, let expected, let found):
            return "field \"\(field)\" must be \(expected), found \(found)"
        case .tooLong(let length, let limit):
            return "line of \(length) bytes is longer than the maximum of \(limit) bytes"
        case .unterminatedSegment(let segment):
            return "segment \(segment) ends in the middle of a line (no final newline) and a later segment exists"
        case .keyMissing(let job, let path):
            return "job \(job): key \(path) is missing or null in the event"
        case .keyNotScalar(let job, let path, let found):
            return "job \(job): key \(path) must be a string or a number, found \(found)"
        }
    }

    /// A short stable code for metrics and `--json` output.
    public var code: String {
        switch self {
        case .emptyLine: return "empty_line"
        case .invalidJSON: return "invalid_json"
        case .invalidUTF8: return "invalid_utf8"
        case .tooDeep: return "too_deep"
        case .notAnObject: return "not_an_object"
        case .missingField: return "missing_field"
        case .wrongType: return "wrong_type"
        case .tooLong: return "too_long"
        case .unterminatedSegment: return "unterminated_segment"
        case .keyMissing: return "key_missing"
        case .keyNotScalar: return "key_not_scalar"
        }
    }
}
