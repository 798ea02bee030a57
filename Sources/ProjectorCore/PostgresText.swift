/// A job's SQL as PostgreSQL reads it: its statements one by one (PostgreSQL prepares one statement
/// at a time) and its named parameters (`:key`, `:data`, …) as the positional `$1`, `$2`, … that
/// PostgreSQL's protocol binds.
///
/// Comments (`--`, nested `/* */`), string literals (`'…'`, `E'…'` with backslash escapes),
/// dollar-quoted strings (`$$…$$`, `$tag$…$tag$`) and quoted identifiers are left alone; `::` is
/// PostgreSQL's cast operator, so `:data::jsonb` is the parameter `data` cast to `jsonb`.
public enum PostgresText {
    /// One statement: its text with `$n` placeholders, the parameter each `$n` stands for
    /// (`parameters[n - 1]`, each name once), and the line of the job text it starts on (from 0).
    public struct Statement: Sendable, Equatable {
        public var sql: String
        public var parameters: [String]
        public var line: Int

        public init(sql: String, parameters: [String], line: Int) {
            self.sql = sql
            self.parameters = parameters
            self.line = line
        }
    }

    /// The statements of `text`, split at the semicolons that end them, parameters numbered.
    /// Statements holding only comments and whitespace are left out. A parameter named in `types`
    /// becomes `($n::type)`, so that it has that type wherever it stands.
    public static func statements(_ text: String, types: [String: String] = [:]) -> [Statement] {
        let bytes = Array(text.utf8)
        var result: [Statement] = []
        var current: [UInt8] = []
        var parameters: [String] = []
        var meaningful = false
        var startLine = 0
        var line = 0
        var index = 0

        func finish() {
            if meaningful {
                let sql = String(decoding: current, as: UTF8.self).trimmingWhitespace()
                result.append(Statement(sql: sql, parameters: parameters, line: startLine))
            }
            current.removeAll()
            parameters.removeAll()
            meaningful = false
        }
        func copy(_ range: Range<Int>) {
            for byte in bytes[range] where byte == UInt8(ascii: "\n") { line += 1 }
            current.append(contentsOf: bytes[range])
        }

        while index < bytes.count {
            let byte = bytes[index]
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if !meaningful && !isSpace(byte) && !(byte == UInt8(ascii: "-") && next == UInt8(ascii: "-"))
                && !(byte == UInt8(ascii: "/") && next == UInt8(ascii: "*"))
            {
                meaningful = true
                startLine = line
            }
            switch byte {
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                var end = index
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                copy(index..<end)
                index = end
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                let end = blockCommentEnd(bytes, from: index)
                copy(index..<end)
                index = end
            case UInt8(ascii: "'"):
                let escapes =
                    index > 0 && (bytes[index - 1] | 0x20) == UInt8(ascii: "e")
                    && (index < 2 || !isWordByte(bytes[index - 2]))
                let end = quotedEnd(bytes, from: index, quote: UInt8(ascii: "'"), backslashEscapes: escapes)
                copy(index..<end)
                index = end
            case UInt8(ascii: "\""):
                let end = quotedEnd(bytes, from: index, quote: UInt8(ascii: "\""), backslashEscapes: false)
                copy(index..<end)
                index = end
            case UInt8(ascii: "$"):
                if let end = dollarQuotedEnd(bytes, from: index) {
                    copy(index..<end)
                    index = end
                } else {
                    current.append(byte)
                    index += 1
                }
            case UInt8(ascii: ":") where next == UInt8(ascii: ":"):
                current.append(contentsOf: [byte, next])
                index += 2
            case UInt8(ascii: ":") where isNameStart(next) && (index == 0 || !isWordByte(bytes[index - 1])):
                var end = index + 1
                while end < bytes.count, isWordByte(bytes[end]) { end += 1 }
                let name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                let number: Int
                if let known = parameters.firstIndex(of: name) {
                    number = known + 1
                } else {
                    parameters.append(name)
                    number = parameters.count
                }
                let placeholder = types[name].map { "($\(number)::\($0))" } ?? "$\(number)"
                current.append(contentsOf: Array(placeholder.utf8))
                index = end
            case UInt8(ascii: ";"):
                finish()
                index += 1
            default:
                if byte == UInt8(ascii: "\n") { line += 1 }
                current.append(byte)
                index += 1
            }
        }
        finish()
        return result
    }

    /// Where a `/* */` comment starting at `start` ends; PostgreSQL's block comments nest.
    static func blockCommentEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < bytes.count {
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if bytes[index] == UInt8(ascii: "/") && next == UInt8(ascii: "*") {
                depth += 1
                index += 2
            } else if bytes[index] == UInt8(ascii: "*") && next == UInt8(ascii: "/") {
                depth -= 1
                index += 2
                if depth == 0 { return index }
            } else {
                index += 1
            }
        }
        return bytes.count
    }

    /// Where a quoted string or identifier starting at `start` ends (a doubled quote stays inside;
    /// with `backslashEscapes`, so does a backslash-escaped one).
    static func quotedEnd(_ bytes: [UInt8], from start: Int, quote: UInt8, backslashEscapes: Bool) -> Int {
        var index = start + 1
        while index < bytes.count {
            if backslashEscapes && bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote {
                if index + 1 < bytes.count && bytes[index + 1] == quote {
                    index += 2
                    continue
                }
                return index + 1
            }
            index += 1
        }
        return bytes.count
    }

    /// Where a dollar-quoted string starting at `start` ends, when a `$tag$` opens one there.
    static func dollarQuotedEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        if start > 0 && isWordByte(bytes[start - 1]) { return nil }
        var index = start + 1
        while index < bytes.count, bytes[index] != UInt8(ascii: "$") {
            guard isWordByte(bytes[index]), !(index == start + 1 && isDigit(bytes[index])) else { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        let tag = Array(bytes[start...index])
        var search = index + 1
        while search + tag.count <= bytes.count {
            if bytes[search] == UInt8(ascii: "$") && Array(bytes[search..<(search + tag.count)]) == tag {
                return search + tag.count
            }
            search += 1
        }
        return bytes.count
    }

    static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static func isNameStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_")
    }

    static func isWordByte(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) || c >= 0x80 }
}

extension String {
    /// The text without leading and trailing spaces, tabs and line breaks.
    func trimmingWhitespace() -> String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, PostgresText.isSpace(bytes[start]) { start += 1 }
        while end > start, PostgresText.isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
