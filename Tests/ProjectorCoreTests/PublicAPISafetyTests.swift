import Foundation
import Testing

/// Raw pointers stay inside the package: no `public` declaration of the library modules names an
/// `Unsafe…` type. Checked on the source text, so it holds for every declaration, called or not.
@Suite struct PublicAPISafetyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let modules = ["ProjectorCore", "Journal", "EventsTableWriter", "SQLiteStore", "Runner", "Webhooks"]

    @Test func noPublicDeclarationMentionsUnsafe() throws {
        var found: [String] = []
        for module in Self.modules {
            let directory = Self.root.appendingPathComponent("Sources/\(module)")
            let files = try #require(FileManager.default.enumerator(atPath: directory.path)).compactMap {
                $0 as? String
            }
            for file in files.sorted() where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                let path = "Sources/\(module)/\(file)"
                for declaration in PublicDeclarations.find(in: text) where declaration.text.contains("Unsafe") {
                    found.append("\(path):\(declaration.line): \(declaration.text)")
                }
            }
        }
        #expect(found.isEmpty, "public declarations with raw pointers:\n\(found.joined(separator: "\n"))")
    }

    @Test func theCheckSeesMultiLineMembersCasesAndExtensions() {
        let source = """
            public enum Item {
                case line(position: Int,
                          bytes: UnsafeRawBufferPointer)
                case other(String)  // UnsafeRawPointer in a comment
            }
            public struct S {
                var hidden: UnsafeRawPointer
                package func bind(_ p: UnsafeRawPointer) {}
                public static func key(_ source: Int, base: Int) -> Result<
                    UnsafeRawPointer, Error
                > {
                    let p: UnsafeRawPointer? = nil
                    return .failure(E())
                }
                public private(set) var base: UnsafeMutableRawPointer
                public var safe: String { "UnsafeRawPointer" }
                public init(
                    a: Int = 1 << 20,
                    b: UnsafePointer<UInt8>
                ) {}
                public func shifted(limit: Int = 1 << 20) -> Int { limit }
                public func after(_ p: UnsafeRawPointer) {}
            }
            public extension S where T == Int {
                func implicit(_ p: UnsafeRawPointer) {}
                private func hidden(_ p: UnsafeRawPointer) {}
            }
            public protocol P {
                func requirement() -> UnsafeRawPointer
                func safe()
            }
            struct Internal {
                public func unreachable(_ p: UnsafeRawPointer) {}
            }
            """
        let unsafe = PublicDeclarations.find(in: source).filter { $0.text.contains("Unsafe") }.map(\.line)
        #expect(unsafe == [2, 9, 15, 17, 22, 25, 29])
    }
}

/// The heads of a Swift file's public declarations (from their first modifier up to their body),
/// with comments and string literals blanked out. A scanner, not a parser: it knows enough of the
/// grammar for declarations as this project writes them (one per line start, multi-line heads,
/// enum cases, protocol requirements, `public extension`).
enum PublicDeclarations {
    struct Declaration {
        var line: Int
        var text: String
    }

    static let accessModifiers: Set<String> = ["public", "open", "package", "internal", "fileprivate", "private"]
    static let modifiers: Set<String> = accessModifiers.union([
        "static", "class", "final", "override", "mutating", "nonmutating", "lazy", "weak", "unowned",
        "convenience", "required", "dynamic", "indirect", "nonisolated", "consuming", "borrowing", "optional",
    ])
    static let typeKeywords: Set<String> = ["struct", "class", "enum", "protocol", "extension", "actor"]
    static let memberKeywords: Set<String> = [
        "func", "init", "deinit", "subscript", "var", "let", "case", "typealias", "associatedtype",
    ]

    struct Token {
        var text: String
        var line: Int
    }

    /// What a pair of braces encloses.
    struct Scope {
        /// A body of code (function, accessor, closure): holds no declarations of interest.
        var isBody: Bool
        /// Members declared here are public when they say so.
        var canBePublic: Bool
        /// Members without an access modifier are public (public protocol, public extension, and a
        /// public enum's cases).
        var membersPublic: Bool
        var isEnum: Bool
    }

    static func find(in source: String) -> [Declaration] {
        let tokens = tokenize(blanked(source))
        var found: [Declaration] = []
        var scopes = [Scope(isBody: false, canBePublic: true, membersPublic: false, isEnum: false)]
        var i = 0
        while i < tokens.count {
            let token = tokens[i].text
            if token == "}" {
                if scopes.count > 1 { scopes.removeLast() }
                i += 1
                continue
            }
            if token == "{" {
                scopes.append(Scope(isBody: true, canBePublic: false, membersPublic: false, isEnum: false))
                i += 1
                continue
            }
            let scope = scopes[scopes.count - 1]
            guard !scope.isBody,
                token.hasPrefix("@") || modifiers.contains(token) || typeKeywords.contains(token)
                    || memberKeywords.contains(token)
            else {
                i += 1
                continue
            }
            // A declaration: attributes and modifiers, then its keyword.
            let start = i
            var access: String?
            while i < tokens.count, tokens[i].text.hasPrefix("@") || modifiers.contains(tokens[i].text) {
                let word = tokens[i].text
                if word == "class", i + 1 < tokens.count, !modifiers.contains(tokens[i + 1].text),
                    !memberKeywords.contains(tokens[i + 1].text)
                {
                    break  // the keyword of a class declaration, not `class func`
                }
                i += 1
                if i < tokens.count, tokens[i].text == "(" {
                    // `private(set)` or an attribute's arguments
                    i = skipGroup(tokens, from: i)
                    continue
                }
                if accessModifiers.contains(word) { access = word }
            }
            guard i < tokens.count else { break }
            let keyword = tokens[i].text
            let isType = typeKeywords.contains(keyword)
            guard isType || memberKeywords.contains(keyword) else { continue }
            let isPublic: Bool
            if let access {
                isPublic = (access == "public" || access == "open") && scope.canBePublic
            } else {
                isPublic = scope.membersPublic || (keyword == "case" && scope.isEnum)
            }
            // The head runs to the body's `{`, or for a declaration without a body to the end of its
            // line (when brackets are balanced and the next line starts something new).
            // Parentheses and brackets; angle brackets count only outside them (generics, not `<<`).
            var depth = 0
            var angles = 0
            // After a property's `=`, braces are a closure's and `<` compares.
            var afterEquals = false
            let hasInitializer = keyword == "var" || keyword == "let"
            var end = i + 1
            var opensBody = false
            while end < tokens.count {
                let t = tokens[end].text
                if t == "(" || t == "[" {
                    depth += 1
                } else if t == ")" || t == "]" {
                    depth -= 1
                } else if t == "<" && depth == 0 && !afterEquals {
                    angles += 1
                } else if t == ">" && depth == 0 && !afterEquals {
                    angles = max(0, angles - 1)
                } else if t == "=" && depth == 0 && hasInitializer {
                    afterEquals = true
                } else if t == "{" && depth == 0 {
                    if afterEquals {
                        end = skipGroup(tokens, from: end, open: "{", close: "}")
                        continue
                    }
                    opensBody = true
                    break
                } else if t == "}" && depth == 0 {
                    break
                } else if t == "\n" && depth <= 0 && angles == 0 {
                    let next = end + 1 < tokens.count ? tokens[end + 1].text : "}"
                    if next == "}" || next.hasPrefix("#") || next.hasPrefix("@") || modifiers.contains(next)
                        || typeKeywords.contains(next) || memberKeywords.contains(next)
                    {
                        break
                    }
                }
                end += 1
            }
            if isPublic {
                let text = tokens[start..<end].map(\.text).filter { $0 != "\n" }.joined(separator: " ")
                found.append(Declaration(line: tokens[start].line, text: text))
            }
            if opensBody {
                if isType {
                    scopes.append(
                        Scope(
                            isBody: false, canBePublic: keyword == "extension" || isPublic,
                            membersPublic: isPublic && (keyword == "extension" || keyword == "protocol"),
                            isEnum: isPublic && keyword == "enum"))
                } else {
                    scopes.append(Scope(isBody: true, canBePublic: false, membersPublic: false, isEnum: false))
                }
                end += 1
            }
            i = end
        }
        return found
    }

    /// The index past the group that `open` starts at `start` (up to its matching `close`).
    static func skipGroup(_ tokens: [Token], from start: Int, open: String = "(", close: String = ")") -> Int {
        var depth = 0
        var i = start
        while i < tokens.count {
            if tokens[i].text == open { depth += 1 }
            if tokens[i].text == close {
                depth -= 1
                if depth == 0 { return i + 1 }
            }
            i += 1
        }
        return i
    }

    /// Words (identifiers, keywords, `@attributes`, `#directives`), `->`, newlines and single
    /// punctuation characters.
    static func tokenize(_ text: [Character]) -> [Token] {
        var tokens: [Token] = []
        var line = 1
        var i = 0
        func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "`" }
        while i < text.count {
            let c = text[i]
            if c == "\n" {
                if tokens.last?.text != "\n" { tokens.append(Token(text: "\n", line: line)) }
                line += 1
                i += 1
            } else if c.isWhitespace {
                i += 1
            } else if isWord(c) || c == "@" || c == "#" {
                var j = i + 1
                while j < text.count, isWord(text[j]) { j += 1 }
                tokens.append(Token(text: String(text[i..<j]), line: line))
                i = j
            } else if c == "-", i + 1 < text.count, text[i + 1] == ">" {
                tokens.append(Token(text: "->", line: line))
                i += 2
            } else {
                tokens.append(Token(text: String(c), line: line))
                i += 1
            }
        }
        return tokens
    }

    /// The index past the `)` closing an interpolation whose `(` is at `start` (strings inside it
    /// are skipped whole).
    static func interpolationEnd(_ s: [Character], from start: Int) -> Int {
        var depth = 0
        var j = start
        while j < s.count {
            switch s[j] {
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth == 0 { return j + 1 }
            case "\"":
                j += 1
                while j < s.count && s[j] != "\"" { j += s[j] == "\\" ? 2 : 1 }
            default: break
            }
            j += 1
        }
        return j
    }

    /// The source with comments and string literals (interpolations included) replaced by spaces;
    /// newlines are kept so line numbers stay right.
    static func blanked(_ source: String) -> [Character] {
        let s = Array(source)
        var out: [Character] = []
        out.reserveCapacity(s.count)
        var i = 0
        func blank(_ c: Character) { out.append(c == "\n" ? "\n" : " ") }
        while i < s.count {
            let c = s[i]
            let next: Character? = i + 1 < s.count ? s[i + 1] : nil
            if c == "/" && next == "/" {
                while i < s.count, s[i] != "\n" {
                    blank(s[i])
                    i += 1
                }
            } else if c == "/" && next == "*" {
                var depth = 0
                repeat {
                    if s[i] == "/", i + 1 < s.count, s[i + 1] == "*" {
                        depth += 1
                        blank(s[i])
                        blank(s[i + 1])
                        i += 2
                    } else if s[i] == "*", i + 1 < s.count, s[i + 1] == "/" {
                        depth -= 1
                        blank(s[i])
                        blank(s[i + 1])
                        i += 2
                    } else {
                        blank(s[i])
                        i += 1
                    }
                } while i < s.count && depth > 0
            } else if c == "\"" || (c == "#" && (next == "\"" || next == "#")) {
                // A string literal: count the opening hashes and quotes, find the matching close.
                var hashes = 0
                var j = i
                while j < s.count, s[j] == "#" {
                    hashes += 1
                    j += 1
                }
                guard j < s.count, s[j] == "\"" else {
                    out.append(c)
                    i += 1
                    continue
                }
                let multiLine = j + 2 < s.count && s[j + 1] == "\"" && s[j + 2] == "\""
                let quotes = multiLine ? 3 : 1
                j += quotes
                let closing = Array(String(repeating: "\"", count: quotes) + String(repeating: "#", count: hashes))
                let escape = Array("\\" + String(repeating: "#", count: hashes))
                while j < s.count {
                    if j + escape.count < s.count && Array(s[j..<(j + escape.count)]) == escape {
                        j += escape.count
                        if s[j] == "(" {
                            j = interpolationEnd(s, from: j)
                        } else {
                            j += 1
                        }
                        continue
                    }
                    if j + closing.count <= s.count && Array(s[j..<(j + closing.count)]) == closing {
                        j += closing.count
                        break
                    }
                    j += 1
                }
                j = min(j, s.count)
                for k in i..<j { blank(s[k]) }
                i = j
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }
}
