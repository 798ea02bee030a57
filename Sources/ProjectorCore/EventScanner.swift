/// A single-pass, validating JSON scanner for journal lines.
///
/// Written by hand because the run needs only a handful of top-level fields out of each line, at
/// hundreds of megabytes a second: Foundation's `JSONDecoder` builds a whole value tree and manages
/// about 30 MB/s on Linux. The scanner still validates the complete line (RFC 8259 grammar, UTF-8,
/// escapes, numbers), so a line it accepts is valid JSON; it allocates nothing and bounds nesting
/// depth so hostile input cannot exhaust the stack.
public struct EventScanner: Sendable {
    /// The deepest nesting of objects and arrays accepted (the event object itself is level 1).
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    /// Scans one line (without its line ending): the accepted event, holding `line`, or why it is rejected.
    public func scan(_ line: [UInt8]) -> Result<ScannedLine, RejectReason> {
        scan(line[...])
    }

    /// Scans one line (without its line ending): the accepted event, holding `line`, or why it is rejected.
    public func scan(_ line: ArraySlice<UInt8>) -> Result<ScannedLine, RejectReason> {
        line.withUnsafeBytes { (raw) -> Result<ScannedLine, RejectReason> in
            do throws(RejectReason) {
                return .success(ScannedLine(line, fields: try fields(of: raw)))
            } catch {
                return .failure(error)
            }
        }
    }

    /// Scans bytes owned elsewhere: the accepted event is a view of `line`, valid only as long as
    /// its bytes are (the runner scans the journal cursor's buffer this way, copying nothing).
    package func scan(borrowing line: UnsafeRawBufferPointer) -> Result<ScannedLine, RejectReason> {
        do throws(RejectReason) {
            return .success(ScannedLine(borrowing: line, fields: try fields(of: line)))
        } catch {
            return .failure(error)
        }
    }

    /// Scans one line (without its line ending) and returns the event's fields or why it is rejected.
    package func scan(_ line: UnsafeRawBufferPointer) -> Result<EventFields, RejectReason> {
        do throws(RejectReason) {
            return .success(try fields(of: line))
        } catch {
            return .failure(error)
        }
    }

    /// The event's fields in one line (without its line ending), or why it is rejected. Inlined
    /// into each entry point so the result is built in place.
    @inline(__always)
    func fields(of line: UnsafeRawBufferPointer) throws(RejectReason) -> EventFields {
        guard let base = line.baseAddress, line.count > 0 else { throw .emptyLine }
        var state = ScanState(
            bytes: base.assumingMemoryBound(to: UInt8.self),
            count: line.count,
            maxDepth: maxDepth
        )
        var fields = EventFields()
        state.skipWhitespace()
        if state.index == state.count { throw .emptyLine }
        if state.bytes[state.index] == UInt8(ascii: "{") {
            try state.scanEventObject(into: &fields)
        } else {
            _ = try state.scanValue(depth: 0)
            state.skipWhitespace()
            if state.index != state.count { throw state.invalid("unexpected data after the JSON value") }
            throw .notAnObject
        }
        state.skipWhitespace()
        if state.index != state.count { throw state.invalid("unexpected data after the JSON value") }
        if let reason = Self.checkRequired(fields) { throw reason }
        return fields
    }

    /// Checks the presence and types of the fields the journal contract requires (SPEC §2).
    static func checkRequired(_ fields: EventFields) -> RejectReason? {
        guard fields.type != nil else { return .missingField("type") }
        guard fields.typeKind == .string else {
            return .wrongType(field: "type", expected: "a string", found: fields.typeKind)
        }
        if fields.type?.count == 0 {
            return .wrongType(field: "type", expected: "a non-empty string", found: .string)
        }
        guard fields.aggregateType != nil else { return .missingField("aggregateType") }
        guard fields.aggregateTypeKind == .string else {
            return .wrongType(field: "aggregateType", expected: "a string", found: fields.aggregateTypeKind)
        }
        guard fields.aggregateId != nil else { return .missingField("aggregateId") }
        guard fields.aggregateIdKind == .string || fields.aggregateIdKind == .integer else {
            return .wrongType(field: "aggregateId", expected: "a string or an integer", found: fields.aggregateIdKind)
        }
        if fields.id != nil, fields.idKind != .string, fields.idKind != .integer, fields.idKind != .null {
            return .wrongType(field: "id", expected: "a string or an integer", found: fields.idKind)
        }
        if fields.occurredAt != nil, fields.occurredAtKind != .string, fields.occurredAtKind != .null {
            return .wrongType(field: "occurredAt", expected: "a string", found: fields.occurredAtKind)
        }
        return nil
    }
}

/// The scanner's moving parts: a pointer, a length and an index. Kept in one struct so the
/// optimizer keeps all three in registers.
struct ScanState {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    let maxDepth: Int
    var index = 0

    init(bytes: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.bytes = bytes
        self.count = count
        self.maxDepth = maxDepth
    }

    func invalid(_ message: String) -> RejectReason {
        .invalidJSON(offset: index, message: message)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < count {
            let c = bytes[index]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                index += 1
            } else {
                return
            }
        }
    }

    /// Scans the top-level object and records the fields of the journal contract.
    mutating func scanEventObject(into fields: inout EventFields) throws(RejectReason) {
        try withUnsafeMutablePointer(to: &fields) { (pointer) throws(RejectReason) in
            try scanObject(depth: 1, fields: pointer)
        }
    }

    /// Scans any JSON value starting at `index`. `depth` is the nesting level of the container holding it.
    mutating func scanValue(depth: Int) throws(RejectReason) -> (JSONKind, ByteSpan) {
        guard index < count else { throw invalid("expected a value") }
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return (.string, try scanString())
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw .tooDeep(offset: index, limit: maxDepth) }
            try scanObject(depth: depth + 1, fields: nil)
            return (.object, ByteSpan(start: start, end: index))
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw .tooDeep(offset: index, limit: maxDepth) }
            try scanArray(depth: depth + 1)
            return (.array, ByteSpan(start: start, end: index))
        case UInt8(ascii: "t"):
            try scanLiteral(0x74_72_75_65, length: 4)  // "true"
            return (.bool, ByteSpan(start: start, end: index))
        case UInt8(ascii: "f"):
            guard index + 5 <= count, bytes[index + 4] == UInt8(ascii: "e") else {
                throw invalid("invalid literal")
            }
            try scanLiteral(0x66_61_6C_73, length: 4)  // "fals"
            index += 1
            return (.bool, ByteSpan(start: start, end: index))
        case UInt8(ascii: "n"):
            try scanLiteral(0x6E_75_6C_6C, length: 4)  // "null"
            return (.null, ByteSpan(start: start, end: index))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let isInteger = try scanNumber()
            return (isInteger ? .integer : .number, ByteSpan(start: start, end: index))
        case 0x80...0xFF:
            if UTF8Validation.sequenceLength(bytes, index, count) == nil { throw .invalidUTF8(offset: index) }
            throw invalid("unexpected character")
        default:
            throw invalid("unexpected character")
        }
    }

    /// Matches four big-endian-packed ASCII bytes.
    @inline(__always)
    mutating func scanLiteral(_ packed: UInt32, length: Int) throws(RejectReason) {
        guard index + length <= count else { throw invalid("invalid literal") }
        let word =
            UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
            | UInt32(bytes[index + 3])
        guard word == packed else { throw invalid("invalid literal") }
        index += length
    }

    /// Scans an object at nesting level `depth`; members of the event object (`fields` not nil)
    /// are recorded, nested objects' only validated.
    mutating func scanObject(depth: Int, fields: UnsafeMutablePointer<EventFields>?) throws(RejectReason) {
        index += 1
        skipWhitespace()
        if index < count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            guard index < count else { throw invalid("unterminated object") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw invalid("expected a string key") }
            let key = try scanString()
            skipWhitespace()
            guard index < count, bytes[index] == UInt8(ascii: ":") else { throw invalid("expected ':' after key") }
            index += 1
            skipWhitespace()
            let (kind, span) = try scanValue(depth: depth)
            if let fields { FieldRecorder.record(key: key, kind: kind, span: span, in: bytes, to: fields) }
            skipWhitespace()
            guard index < count else { throw invalid("unterminated object") }
            let c = bytes[index]
            index += 1
            if c == UInt8(ascii: ",") {
                skipWhitespace()
                continue
            }
            if c == UInt8(ascii: "}") { return }
            index -= 1
            throw invalid("expected ',' or '}' in object")
        }
    }

    mutating func scanArray(depth: Int) throws(RejectReason) {
        index += 1
        skipWhitespace()
        if index < count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            _ = try scanValue(depth: depth)
            skipWhitespace()
            guard index < count else { throw invalid("unterminated array") }
            let c = bytes[index]
            index += 1
            if c == UInt8(ascii: ",") {
                skipWhitespace()
                continue
            }
            if c == UInt8(ascii: "]") { return }
            index -= 1
            throw invalid("expected ',' or ']' in array")
        }
    }

    /// Scans a number; returns whether it is an integer (no fraction, no exponent).
    mutating func scanNumber() throws(RejectReason) -> Bool {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < count else { throw invalid("invalid number") }
        let first = bytes[index]
        if first == UInt8(ascii: "0") {
            index += 1
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            index += 1
            skipDigits()
        } else {
            throw invalid("invalid number")
        }
        var isInteger = true
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < count, isDigit(bytes[index]) else {
                throw invalid("invalid number: digit expected after '.'")
            }
            skipDigits()
            isInteger = false
        }
        if index < count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < count, isDigit(bytes[index]) else {
                throw invalid("invalid number: digit expected in exponent")
            }
            skipDigits()
            isInteger = false
        }
        return isInteger
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    mutating func skipDigits() {
        while index < count, isDigit(bytes[index]) { index += 1 }
    }

    /// Scans a string starting at its opening quote; returns the span of its content.
    ///
    /// Eight bytes at a time: a word's mask marks quotes, backslashes, control characters and bytes
    /// of 0x80 or more; the lowest marked byte is exact, so the scan jumps straight to it.
    mutating func scanString() throws(RejectReason) -> ByteSpan {
        var i = index &+ 1
        let start = i
        let n = count
        var escaped = false
        let raw = UnsafeRawPointer(bytes)
        while true {
            while i &+ 8 <= n {
                let mask = SWAR.specialMask(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if mask != 0 {
                    i &+= mask.trailingZeroBitCount >> 3
                    break
                }
                i &+= 8
            }
            guard i < n else {
                index = i
                throw invalid("unterminated string")
            }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                index = i &+ 1
                return ByteSpan(start: start, end: i, escaped: escaped)
            } else if c == UInt8(ascii: "\\") {
                escaped = true
                index = i
                try scanEscape()
                i = index
            } else if c < 0x20 {
                index = i
                throw invalid("control character in string")
            } else if c < 0x80 {
                i &+= 1
            } else {
                guard let length = UTF8Validation.sequenceLength(bytes, i, n) else {
                    index = i
                    throw .invalidUTF8(offset: i)
                }
                i &+= length
            }
        }
    }

    /// Validates one escape sequence starting at the backslash, including surrogate pairing.
    mutating func scanEscape() throws(RejectReason) {
        index += 1
        guard index < count else { throw invalid("unterminated string") }
        switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            let escapeStart = index - 1
            let unit = try scanHex4()
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard index + 1 < count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else {
                    throw .invalidJSON(offset: escapeStart, message: "lone UTF-16 surrogate escape")
                }
                index += 1
                let low = try scanHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw .invalidJSON(offset: escapeStart, message: "lone UTF-16 surrogate escape")
                }
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw .invalidJSON(offset: escapeStart, message: "lone UTF-16 surrogate escape")
            }
        default:
            throw invalid("invalid escape sequence")
        }
    }

    /// Reads `u` followed by four hex digits; `index` is at the `u`.
    mutating func scanHex4() throws(RejectReason) -> UInt32 {
        index += 1
        guard index + 4 <= count else { throw invalid("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw invalid("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

/// Records the members of the event object that the journal contract names (a later duplicate
/// key wins).
enum FieldRecorder {
    @inline(__always)
    static func record(
        key: ByteSpan, kind: JSONKind, span: ByteSpan, in bytes: UnsafePointer<UInt8>,
        to fields: UnsafeMutablePointer<EventFields>
    ) {
        switch EventField.match(key, in: bytes) {
        case .type?:
            fields.pointee.type = span
            fields.pointee.typeKind = kind
        case .aggregateType?:
            fields.pointee.aggregateType = span
            fields.pointee.aggregateTypeKind = kind
        case .aggregateId?:
            fields.pointee.aggregateId = span
            fields.pointee.aggregateIdKind = kind
        case .id?:
            fields.pointee.id = span
            fields.pointee.idKind = kind
        case .occurredAt?:
            fields.pointee.occurredAt = span
            fields.pointee.occurredAtKind = kind
        case .data?:
            fields.pointee.data = span
            fields.pointee.dataKind = kind
        case .metadata?:
            fields.pointee.metadata = span
            fields.pointee.metadataKind = kind
        case nil:
            break
        }
    }
}

/// Word-at-a-time byte tests (the classic "has zero byte" bit tricks).
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    static func hasZeroByte(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    /// The high bit of each byte that is a quote, a backslash, a control character or ≥ 0x80.
    /// Bits above the lowest set one may be spurious (borrows), the lowest one is exact.
    @inline(__always)
    static func specialMask(_ word: UInt64) -> UInt64 {
        let control = (word &- ones &* 0x20) & ~word
        let quote = (word ^ (ones &* 0x22)) &- ones & ~(word ^ (ones &* 0x22))
        let backslash = (word ^ (ones &* 0x5C)) &- ones & ~(word ^ (ones &* 0x5C))
        return (word | control | quote | backslash) & highs
    }
}

/// UTF-8 well-formedness per the Unicode standard's table 3-7 (no overlongs, no surrogates, ≤ U+10FFFF).
enum UTF8Validation {
    /// The length of the well-formed multi-byte sequence at `i`, or nil when it is ill-formed.
    @inline(__always)
    static func sequenceLength(_ bytes: UnsafePointer<UInt8>, _ i: Int, _ count: Int) -> Int? {
        let lead = bytes[i]
        @inline(__always) func cont(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            i + k < count && bytes[i + k] >= low && bytes[i + k] <= high
        }
        switch lead {
        case 0xC2...0xDF:
            return cont(1) ? 2 : nil
        case 0xE0:
            return cont(1, 0xA0) && cont(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(1) && cont(2) ? 3 : nil
        case 0xED:
            return cont(1, 0x80, 0x9F) && cont(2) ? 3 : nil
        case 0xF0:
            return cont(1, 0x90) && cont(2) && cont(3) ? 4 : nil
        case 0xF1...0xF3:
            return cont(1) && cont(2) && cont(3) ? 4 : nil
        case 0xF4:
            return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : nil
        default:
            return nil
        }
    }
}
