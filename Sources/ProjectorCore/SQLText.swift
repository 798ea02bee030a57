/// What a job's SQL says apart from how it is written: comments, string literals and quoted
/// identifiers told apart the way SQLite's tokenizer tells them apart.
///
/// Two uses need this and nothing more: a fingerprint that follows what the SQL means, not its
/// comments or layout, and finding whether a section really uses a parameter such as `:key`
/// (not merely mentions it in a comment or a string).
public enum SQLText {
    /// `name` as a quoted SQL identifier (double quotes, an inner one doubled): the same in
    /// SQLite and PostgreSQL.
    public static func quotedIdentifier(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// The text with comments removed and whitespace kept only where it separates two words
    /// (keywords, names, numbers, literals), as one space: `id = :key` and `id=:key` normalize
    /// alike, `SELECT a` keeps its space. String literals and quoted identifiers are kept byte for
    /// byte.
    ///
    /// Dropping a space between two symbols could join them into another operator (`< =` into
    /// `<=`), but only when the spaced form is not valid SQL, so two valid texts that normalize
    /// alike still mean the same.
    public static func normalized(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        scan(text) { piece, bytes in
            switch piece {
            case .space, .comment:
                pendingSpace = true
            case .code, .parameter, .quoted:
                if pendingSpace, let last = out.last, let next = bytes.first, isWordish(last), isWordish(next) {
                    out.append(UInt8(ascii: " "))
                }
                pendingSpace = false
                out.append(contentsOf: bytes)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A byte that would run into a neighbouring word without a space between them.
    static func isWordish(_ c: UInt8) -> Bool {
        isWordByte(c) || c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "`")
            || c == UInt8(ascii: "[") || c == UInt8(ascii: "]")
    }

    /// Whether the SQL binds the named parameter (`:name`, `@name`, `$name` or `#name`, as SQLite
    /// accepts them all) outside comments, string literals and quoted identifiers.
    public static func usesParameter(_ name: String, in text: String) -> Bool {
        let wanted = Array(name.utf8)
        var found = false
        scan(text) { piece, bytes in
            if piece == .parameter && bytes.dropFirst().elementsEqual(wanted) { found = true }
        }
        return found
    }

    /// The first named parameter the SQL binds (`:key`, `@a`, `$b`, `#c`) outside comments, string
    /// literals and quoted identifiers, and the line it is on, counted from 0.
    public static func firstParameter(in text: String) -> (text: String, line: Int)? {
        var found: (text: String, line: Int)?
        var line = 0
        scan(text) { piece, bytes in
            guard found == nil else { return }
            if piece == .parameter {
                found = (String(decoding: bytes, as: UTF8.self), line)
            } else {
                line += bytes.count { $0 == 0x0A }
            }
        }
        return found
    }

    /// Whether the SQL names `name` (a table, a column: compared without regard to ASCII case) as
    /// a bare word outside comments and string literals, or as a quoted identifier.
    public static func usesName(_ name: String, in text: String) -> Bool {
        let wanted = Array(name.lowercased().utf8)
        var found = false
        scan(text) { piece, bytes in
            guard !found else { return }
            switch piece {
            case .code:
                var word: [UInt8] = []
                for c in bytes {
                    if isWordByte(c) {
                        word.append(c >= 0x41 && c <= 0x5A ? c + 32 : c)
                    } else {
                        if word == wanted { found = true }
                        word.removeAll(keepingCapacity: true)
                    }
                }
                if word == wanted { found = true }
            case .quoted:
                guard let open = bytes.first, open != UInt8(ascii: "'"), bytes.count >= 2 else { return }
                let inner = bytes.dropFirst().dropLast().map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
                if inner == wanted { found = true }
            case .parameter, .comment, .space:
                break
            }
        }
        return found
    }

    enum Piece: Equatable {
        /// Anything else SQLite tokenizes as code: keywords, names, numbers, operators.
        case code
        /// A named parameter such as `:key`, whole as SQLite reads it (`$a::b(c)` included).
        case parameter
        /// A string literal or a quoted identifier, quotes included.
        case quoted
        case comment
        case space
    }

    /// Calls `body` with consecutive pieces of the text; a `.code` piece never holds whitespace,
    /// a comment or a quote.
    static func scan(_ text: String, _ body: (Piece, ArraySlice<UInt8>) -> Void) {
        let bytes = Array(text.utf8)
        let n = bytes.count
        var i = 0
        var codeStart = 0
        func flushCode() {
            if codeStart < i { body(.code, bytes[codeStart..<i]) }
        }
        while i < n {
            let c = bytes[i]
            let next: UInt8 = i + 1 < n ? bytes[i + 1] : 0
            var end = i
            let piece: Piece
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "`") || c == UInt8(ascii: "[") {
                // A doubled quote inside a literal ends it and opens the next at once: the pieces
                // follow each other, which keeps the text intact.
                let close = c == UInt8(ascii: "[") ? UInt8(ascii: "]") : c
                end = i + 1
                while end < n && bytes[end] != close { end += 1 }
                end = min(n, end + 1)
                piece = .quoted
            } else if c == UInt8(ascii: "-") && next == UInt8(ascii: "-") {
                end = i + 2
                while end < n && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                piece = .comment
            } else if c == UInt8(ascii: "/") && next == UInt8(ascii: "*") {
                end = i + 2
                while end < n
                    && !(bytes[end] == UInt8(ascii: "*") && end + 1 < n && bytes[end + 1] == UInt8(ascii: "/"))
                {
                    end += 1
                }
                end = min(n, end + 2)
                piece = .comment
            } else if isSpace(c) {
                end = i + 1
                while end < n && isSpace(bytes[end]) { end += 1 }
                piece = .space
            } else if c == UInt8(ascii: ":") || c == UInt8(ascii: "@") || c == UInt8(ascii: "$")
                || c == UInt8(ascii: "#")
            {
                end = parameterEnd(bytes, from: i)
                piece = .parameter
            } else if isWordByte(c) {
                // A keyword, name or number, whole: a `$` inside one does not start a parameter.
                while i < n && isWordByte(bytes[i]) { i += 1 }
                continue
            } else {
                i += 1
                continue
            }
            flushCode()
            body(piece, bytes[i..<end])
            i = end
            codeStart = end
        }
        flushCode()
    }

    /// Where a parameter starting at `start` ends, by the rules of SQLite's tokenizer: name bytes,
    /// `::` inside the name, and a Tcl-style `(…)` suffix that runs to `)` whatever it holds.
    static func parameterEnd(_ bytes: [UInt8], from start: Int) -> Int {
        let n = bytes.count
        var i = start + 1
        var nameBytes = 0
        while i < n {
            let c = bytes[i]
            if isWordByte(c) {
                nameBytes += 1
                i += 1
            } else if c == UInt8(ascii: "("), nameBytes > 0 {
                i += 1
                while i < n && !isSpace(bytes[i]) && bytes[i] != UInt8(ascii: ")") { i += 1 }
                return i < n && bytes[i] == UInt8(ascii: ")") ? i + 1 : i
            } else if c == UInt8(ascii: ":"), i + 1 < n, bytes[i + 1] == UInt8(ascii: ":") {
                i += 2
            } else {
                break
            }
        }
        return i
    }

    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C
    }

    /// Bytes SQLite lets continue an identifier (any non-ASCII byte among them).
    static func isWordByte(_ c: UInt8) -> Bool {
        (JobFileParser.isNameByte(c) && c != UInt8(ascii: "-")) || c == UInt8(ascii: "$") || c >= 0x80
    }
}
