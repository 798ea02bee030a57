import Foundation

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of 24 to 64 random bytes.
/// Its description never shows the key.
public struct WebhookSecret: Sendable, CustomStringConvertible {
    public let key: [UInt8]

    public enum Problem: Error, Sendable, CustomStringConvertible {
        case missingPrefix
        case notBase64
        case wrongLength(Int)

        public var description: String {
            switch self {
            case .missingPrefix: return "a secret must start with 'whsec_'"
            case .notBase64: return "the part after 'whsec_' is not valid base64"
            case .wrongLength(let n): return "the secret decodes to \(n) bytes; it must be 24 to 64 bytes"
            }
        }
    }

    public init(_ text: String) throws(Problem) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("whsec_") else { throw .missingPrefix }
        guard let data = Data(base64Encoded: String(trimmed.dropFirst(6))) else { throw .notBase64 }
        guard (24...64).contains(data.count) else { throw .wrongLength(data.count) }
        key = Array(data)
    }

    /// Several secrets separated by whitespace (during a rotation, old and new both sign).
    public static func list(_ text: String) throws(Problem) -> [WebhookSecret] {
        var secrets: [WebhookSecret] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
            secrets.append(try WebhookSecret(String(part)))
        }
        if secrets.isEmpty { throw .missingPrefix }
        return secrets
    }

    /// A new random secret, for `projector webhooks` users who need one.
    public static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    public var description: String { "whsec_…(\(key.count) bytes)" }
}
