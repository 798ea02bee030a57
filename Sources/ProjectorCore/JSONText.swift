/// Helpers over JSON text that the scanner has already validated: decoding strings and finding
/// values by path. They do not validate again; call them only on accepted lines. Outside this
/// package, `ScannedLine` offers them over a line's own bytes.
@usableFromInline package enum JSONText {
    /// The text of a string span, with escape sequences decoded.
    @usableFromInline package static func decodeString(_ base: UnsafeRawPointer, _ span: ByteSpan) -> String {
        let bytes = UnsafeBufferPointer(
            start: base.assumingMemoryBound(to: UInt8.self) + span.start,
            count: span.count
        )
        guard span.escaped else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(bytes, i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex4(bytes, i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)  // " \ /
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[i + k] | 0x20
            value = value << 4 | UInt32(c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10)
        }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Finds the value at `path` (object keys, outermost first) inside the object at `span`.
    /// Returns its kind and span (string content for strings, the whole value otherwise). When a
    /// key appears twice the later one wins, as in the scanner and common JSON parsers.
    @usableFromInline package static func find(
        path: [String],
        in base: UnsafeRawPointer,
        object span: ByteSpan
    ) -> (JSONKind, ByteSpan)? {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var objectStart = span.start
        let end = span.end
        for level in 0..<path.count {
            guard objectStart < end, bytes[objectStart] == UInt8(ascii: "{") else { return nil }
            var i = skipSpace(bytes, objectStart + 1, end)
            var match: Int?
            while i < end, bytes[i] == UInt8(ascii: "\"") {
                let keyStart = i + 1
                let (keyEnd, keyEscaped) = stringEnd(bytes, keyStart, end)
                i = skipSpace(bytes, keyEnd + 1, end) + 1  // past ':'
                i = skipSpace(bytes, i, end)
                if keyEquals(bytes, ByteSpan(start: keyStart, end: keyEnd, escaped: keyEscaped), path[level]) {
                    match = i
                }
                i = skipSpace(bytes, skipValue(bytes, i, end), end)
                guard i < end, bytes[i] == UInt8(ascii: ",") else { break }
                i = skipSpace(bytes, i + 1, end)
            }
            guard let match else { return nil }
            if level == path.count - 1 { return valueAt(bytes, match, end) }
            objectStart = match
        }
        return nil
    }

    static func keyEquals(_ bytes: UnsafePointer<UInt8>, _ key: ByteSpan, _ name: String) -> Bool {
        if key.escaped { return decodeString(UnsafeRawPointer(bytes), key) == name }
        var name = name
        return name.withUTF8 { utf8 in
            guard utf8.count == key.count else { return false }
            for k in 0..<utf8.count where utf8[k] != bytes[key.start + k] { return false }
            return true
        }
    }

    static func valueAt(_ bytes: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (JSONKind, ByteSpan) {
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "\""):
            let (e, escaped) = stringEnd(bytes, i + 1, end)
            return (.string, ByteSpan(start: i + 1, end: e, escaped: escaped))
        case UInt8(ascii: "{"): return (.object, ByteSpan(start: i, end: skipValue(bytes, i, end)))
        case UInt8(ascii: "["): return (.array, ByteSpan(start: i, end: skipValue(bytes, i, end)))
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return (.bool, ByteSpan(start: i, end: skipValue(bytes, i, end)))
        case UInt8(ascii: "n"): return (.null, ByteSpan(start: i, end: i + 4))
        default:
            let e = skipValue(bytes, i, end)
            var isInteger = true
            for k in i..<e where bytes[k] == UInt8(ascii: ".") || bytes[k] | 0x20 == UInt8(ascii: "e") {
                isInteger = false
            }
            return (isInteger ? .integer : .number, ByteSpan(start: i, end: e))
        }
    }

    @inline(__always)
    static func skipSpace(_ bytes: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var i = i
        while i < end, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// The index of the closing quote of the string whose content starts at `i`.
    static func stringEnd(_ bytes: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (Int, Bool) {
        var i = i
        var escaped = false
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { return (i, escaped) }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 2
            } else {
                i += 1
            }
        }
        return (end, escaped)
    }

    /// The index just past the value starting at `i`.
    static func skipValue(_ bytes: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var i = i
        let c = bytes[i]
        if c == UInt8(ascii: "\"") { return stringEnd(bytes, i + 1, end).0 + 1 }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while i < end {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    i = stringEnd(bytes, i + 1, end).0 + 1
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return i + 1 }
                }
                i += 1
            }
            return end
        }
        while i < end {
            let b = bytes[i]
            if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b == 0x20 || b == 0x09
                || b == 0x0A || b == 0x0D
            {
                return i
            }
            i += 1
        }
        return end
    }
}
