/// What a job's SQL says apart from how it is written: comments, string literals and quoted
/// identifiers told apart the way SQLite's tokenizer tells them apart.
///
/// Two uses need this and nothing more: a fingerprint that follows what the SQL means, not its
/// comments or layout, and finding whether a section really uses a parameter such as `:key`
/// (not merely mentions it in a comment or a string).
public enum SQLText {
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
            case .code, .quoted:
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

    /// Whether the SQL binds the named parameter (`:name`, `@name` or `$name`, as SQLite accepts
    /// all three) outside comments, string literals and quoted identifiers.
    public static func usesParameter(_ name: String, in text: String) -> Bool {
        let wanted = Array(name.utf8)
        var found = false
        scan(text) { piece, slice in
            guard !found, piece == .code else { return }
            let bytes = Array(slice)
            var i = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: ":") || c == UInt8(ascii: "@") || c == UInt8(ascii: "$") {
                    var end = i + 1
                    while end < bytes.count && isWordByte(bytes[end]) && bytes[end] != UInt8(ascii: "$") { end += 1 }
                    if bytes[(i + 1)..<end].elementsEqual(wanted) {
                        found = true
                        return
                    }
                    i = end
                } else if isWordByte(c) {
                    // A word (keyword, identifier, number) may contain `$`; that is not a parameter.
                    while i < bytes.count && isWordByte(bytes[i]) { i += 1 }
                } else {
                    i += 1
                }
            }
        }
        return found
    }

    enum Piece: Equatable {
        /// Anything SQLite tokenizes as code: keywords, names, numbers, operators, parameters.
        case code
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

    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C
    }

    /// Bytes SQLite lets continue an identifier (any non-ASCII byte among them).
    static func isWordByte(_ c: UInt8) -> Bool {
        (JobFileParser.isNameByte(c) && c != UInt8(ascii: "-")) || c == UInt8(ascii: "$") || c >= 0x80
    }
}
