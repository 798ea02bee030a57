import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// What projector may say about a connection string: passwords never leave it.
public enum PGConnectionString {
    /// The connection string or URL with any password removed, fit for logs, status and errors.
    /// A key/value string that does not parse is not echoed at all.
    public static func redacted(_ conninfo: String) -> String {
        if let scheme = urlScheme(conninfo) { return redactedURL(conninfo, scheme: scheme) }
        guard isExpanded(conninfo) else { return conninfo }
        guard case .success(let options) = parse(conninfo) else { return "(a connection string that does not parse)" }
        return options.filter { $0.0 != "password" }.map { "\($0.0)=\(quoted($0.1))" }.joined(separator: " ")
    }

    /// Whether the connection string or URL carries a password (`password=…`, `user:secret@`).
    /// One that does not parse counts as carrying one when it mentions a password at all.
    public static func carriesPassword(_ conninfo: String) -> Bool {
        guard isExpanded(conninfo) else { return false }
        if case .success(let options) = parse(conninfo) {
            return options.contains { $0.0 == "password" && !$0.1.isEmpty }
        }
        if let scheme = urlScheme(conninfo) {
            return redactedURL(conninfo, scheme: scheme) != conninfo
        }
        return conninfo.contains("password")
    }

    // MARK: - Internals

    /// Whether libpq reads the string as settings (key=value or a URL) rather than as a database name.
    static func isExpanded(_ conninfo: String) -> Bool {
        urlScheme(conninfo) != nil || conninfo.contains("=")
    }

    static func urlScheme(_ conninfo: String) -> String? {
        ["postgresql://", "postgres://"].first { conninfo.hasPrefix($0) }
    }

    /// The settings the string gives, in libpq's order, or libpq's message when it does not parse.
    static func parse(_ conninfo: String) -> Result<[(String, String)], ParseFailure> {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let message = errorMessage.map { String(cString: $0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            return .failure(ParseFailure(message: PGConnection.oneLine(message)))
        }
        defer { PQconninfoFree(options) }
        var settings: [(String, String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { settings.append((String(cString: keyword), String(cString: value))) }
            option += 1
        }
        return .success(settings)
    }

    struct ParseFailure: Error {
        var message: String
    }

    /// The passwords a connection may use (its own and `PGPASSWORD`), to be kept out of messages.
    static func passwords(in conninfo: String) -> [String] {
        var found: [String] = []
        if isExpanded(conninfo), case .success(let options) = parse(conninfo) {
            found += options.filter { $0.0 == "password" }.map(\.1)
        }
        if let environment = getenv("PGPASSWORD") { found.append(String(cString: environment)) }
        return found.filter { !$0.isEmpty }
    }

    /// `message` with every password in `secrets` replaced.
    static func scrub(_ message: String, secrets: [String]) -> String {
        secrets.reduce(message) { $0.replacing($1, with: "(password)") }
    }

    /// libpq's parse messages quote the text they stumbled on, which may be a password.
    static func withoutQuotedText(_ message: String) -> String {
        var result = ""
        var quoted: String?
        for character in message {
            if character == "\"" {
                if let inside = quoted {
                    result += inside.count <= 1 ? "\"\(inside)\"" : "\"…\""
                    quoted = nil
                } else {
                    quoted = ""
                }
            } else if quoted != nil {
                quoted?.append(character)
            } else {
                result.append(character)
            }
        }
        if quoted != nil { result += "\"…" }
        return result
    }

    static func redactedURL(_ url: String, scheme: String) -> String {
        let rest = url.dropFirst(scheme.count)
        let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
        var head = rest[..<queryStart]
        if let at = head.lastIndex(of: "@") {
            let userInfo = head[..<at]
            let user = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
            head = Substring(user + head[at...])
        }
        var text = scheme + head
        if queryStart < rest.endIndex {
            let parameters = rest[rest.index(after: queryStart)...].split(
                separator: "&", omittingEmptySubsequences: false)
            let kept = parameters.filter { !$0.hasPrefix("password=") && $0 != "password" }
            if !kept.isEmpty { text += "?" + kept.joined(separator: "&") }
        }
        return text
    }

    static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && !value.contains { $0 == " " || $0 == "'" || $0 == "\\" || $0 == "\t" }
        if plain { return value }
        var text = "'"
        for character in value {
            if character == "'" || character == "\\" { text.append("\\") }
            text.append(character)
        }
        return text + "'"
    }
}
