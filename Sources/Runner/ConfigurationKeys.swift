import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// The strict parts of reading the configuration file: JSON syntax with line and column, unknown
/// keys with a "did you mean", key paths in messages.
enum ConfigurationKeys {
    /// Any key of a JSON object, to list the keys a decoder was given.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The keys of the object being decoded that are not among `known`, each as a key path with a
    /// suggestion when a known key is close.
    static func unknown<Key: CodingKey>(in decoder: any Decoder, known: [Key]) throws -> [String] {
        let names = known.map(\.stringValue)
        let all = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        return all.filter { !names.contains($0) }.sorted().map { key in
            let described = "unknown key '\(path(decoder.codingPath + [AnyKey(stringValue: key)]))'"
            guard let close = closest(to: key, among: names) else {
                return described + "; known keys here: " + names.joined(separator: ", ")
            }
            return described + " (did you mean '\(close)'?)"
        }
    }

    /// The known name a typo most likely meant: the same letters in another case, or at most two
    /// edits away (one for short names).
    static func closest(to key: String, among names: [String]) -> String? {
        if let same = names.first(where: { $0.lowercased() == key.lowercased() }) { return same }
        let scored = names.map { ($0, distance(Array(key.lowercased()), Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= (key.count <= 4 ? 1 : 2) ? best.0 : nil
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Why a file that could not be read cannot be opened (permission denied, a directory), or nil
    /// when it does not exist.
    static func unreadable(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        let code = errno
        if fd >= 0 {
            close(fd)
            return "not a readable file"
        }
        return code == ENOENT || code == ENOTDIR ? nil : String(cString: strerror(code))
    }

    /// `webhooks.qa-dashboard.schedule[0]`: object keys joined by dots, array indices in brackets.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "the top level" : text
    }

    /// How a message names the type a key must have.
    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is [String].Type: return "an array of strings"
        case is [Double].Type: return "an array of numbers"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Dictionary") || name.hasPrefix("[String") ? "an object" : "a \(name)"
        }
    }

    /// `line:column: message` when `bytes` is not one valid JSON object, else nil. Uses the
    /// journal's validating scanner (RFC 8259, UTF-8), which is stricter than Foundation's decoder
    /// (no trailing commas) and says where the text goes wrong.
    static func syntaxProblem(_ bytes: [UInt8]) -> String? {
        let result = EventScanner().scan(bytes)
        guard case .failure(let reason) = result else { return nil }
        let offset: Int
        let message: String
        switch reason {
        case .emptyLine:
            return " the file is empty; it must hold one JSON object"
        case .notAnObject:
            return " the file must hold one JSON object ({ … })"
        case .invalidJSON(let at, let text):
            (offset, message) = (at, "not valid JSON: \(text)")
        case .invalidUTF8(let at):
            (offset, message) = (at, "not valid UTF-8")
        case .tooDeep(let at, let limit):
            (offset, message) = (at, "nested deeper than \(limit) levels")
        default:
            return nil  // valid JSON that is not a journal event, which is what a configuration is
        }
        return "\(ConfigurationText.location(of: offset, in: bytes)): \(message)"
    }
}
