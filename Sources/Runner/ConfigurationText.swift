/// What Foundation's decoder cannot say about a configuration file that is valid JSON: a key given
/// twice in one object (the decoder keeps one silently), and a number that is not what its key
/// needs (a fraction for an integer, a value out of range), which the decoder reports as "not
/// valid JSON" at the top level. Written by hand because it needs each value's position and key
/// path, which no decoder exposes; the text is small and already checked by the JSON scanner.
struct ConfigurationText {
    let bytes: [UInt8]
    var index = 0
    var problems: [String] = []
    /// Keys whose value must be a whole number.
    static let integerKeys: Set<String> = ["maxAttempts"]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// `line:column: message` for each problem, in file order.
    static func problems(_ bytes: [UInt8]) -> [String] {
        var text = ConfigurationText(bytes)
        text.value(path: [])
        return text.problems
    }

    mutating func value(path: [String]) {
        skipSpace()
        guard index < bytes.count else { return }
        switch bytes[index] {
        case UInt8(ascii: "{"): object(path: path)
        case UInt8(ascii: "["): array(path: path)
        case UInt8(ascii: "\""): _ = string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): number(path: path)
        default:
            while index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") {
                index += 1
            }
        }
    }

    mutating func object(path: [String]) {
        index += 1
        var seen: [String: Int] = [:]
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] != UInt8(ascii: "}") else { break }
            let start = index
            let key = string()
            if let first = seen[key] {
                problems.append(
                    "\(location(start)): '\(Self.display(path + [key]))' is given twice (first at line "
                        + "\(Self.line(of: first, in: bytes))); remove one")
            } else {
                seen[key] = start
            }
            skipSpace()
            index += 1  // ':'
            value(path: path + [key])
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
        }
        index += 1
    }

    mutating func array(path: [String]) {
        index += 1
        var position = 0
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] != UInt8(ascii: "]") else { break }
            value(path: path + ["[\(position)]"])
            position += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
        }
        index += 1
    }

    /// The raw text between the quotes (escapes left as written: enough to compare keys).
    mutating func string() -> String {
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
        }
        let text = String(decoding: bytes[start..<min(index, bytes.count)], as: UTF8.self)
        index += 1
        return text
    }

    mutating func number(path: [String]) {
        let start = index
        while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        let name = Self.display(path)
        if let key = path.last, Self.integerKeys.contains(key), Int(text) == nil {
            problems.append("\(location(start)): '\(name)' must be a whole number, not \(text)")
        } else if let value = Double(text), !value.isFinite {
            problems.append("\(location(start)): '\(name)' is out of range: \(text)")
        }
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    func location(_ offset: Int) -> String { Self.location(of: offset, in: bytes) }

    /// `line:column` of a byte offset, columns counted in characters (UTF-8 lead bytes).
    static func location(of offset: Int, in bytes: [UInt8]) -> String {
        let before = bytes.prefix(min(offset, bytes.count))
        let lineStart = (before.lastIndex(of: 0x0A) ?? -1) + 1
        let column = before[lineStart...].count(where: { $0 & 0xC0 != 0x80 }) + 1
        return "\(line(of: offset, in: bytes)):\(column)"
    }

    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        bytes.prefix(offset).count(where: { $0 == 0x0A }) + 1
    }

    static func display(_ path: [String]) -> String {
        path.reduce("") { $1.hasPrefix("[") || $0.isEmpty ? $0 + $1 : $0 + "." + $1 }
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
            || byte == UInt8(ascii: "E")
    }
}
