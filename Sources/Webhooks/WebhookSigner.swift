import COpenSSL
import Foundation

/// Signs and verifies notifications as the Standard Webhooks specification defines:
/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`, one signature per secret, space-separated.
///
/// HMAC comes from OpenSSL's libcrypto, which libcurl already loads: one C call, no extra
/// package to build, and `CRYPTO_memcmp` for constant-time comparison.
public enum WebhookSigner {
    public static func signature(id: String, timestamp: Int, body: [UInt8], secret: WebhookSecret) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        var mac = [UInt8](repeating: 0, count: 32)
        let ok = secret.key.withUnsafeBytes { key in
            message.withUnsafeBufferPointer { data in
                mac.withUnsafeMutableBufferPointer { out in
                    projector_hmac_sha256(
                        key.baseAddress, Int32(key.count), data.baseAddress, data.count, out.baseAddress)
                }
            }
        }
        precondition(ok == 1, "HMAC-SHA256 failed in libcrypto")
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` header value: every secret's signature, space-separated.
    public static func header(id: String, timestamp: Int, body: [UInt8], secrets: [WebhookSecret]) -> String {
        secrets.map { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }

    public enum VerificationError: Error, Equatable, CustomStringConvertible {
        case missingHeader(String)
        case invalidTimestamp
        case timestampOutOfTolerance(skew: Int)
        case noMatchingSignature

        public var description: String {
            switch self {
            case .missingHeader(let name): return "header \(name) is missing"
            case .invalidTimestamp: return "webhook-timestamp is not an integer"
            case .timestampOutOfTolerance(let skew): return "webhook-timestamp is \(skew) s away from now"
            case .noMatchingSignature: return "no signature matches"
            }
        }
    }

    /// Verifies a received notification: one of the `v1` signatures must match one of the secrets,
    /// compared in constant time, and the timestamp must be within `tolerance` seconds of `now`.
    public static func verify(
        headers: [String: String], body: [UInt8], secrets: [WebhookSecret], now: Int, tolerance: Int = 300
    ) throws(VerificationError) {
        var lower: [String: String] = [:]
        for (name, value) in headers { lower[name.lowercased()] = value }
        guard let id = lower["webhook-id"] else { throw .missingHeader("webhook-id") }
        guard let timestampText = lower["webhook-timestamp"] else { throw .missingHeader("webhook-timestamp") }
        guard let signatures = lower["webhook-signature"] else { throw .missingHeader("webhook-signature") }
        guard let timestamp = Int(timestampText.trimmingCharacters(in: .whitespaces)) else { throw .invalidTimestamp }
        if abs(now - timestamp) > tolerance { throw .timestampOutOfTolerance(skew: now - timestamp) }
        let received = signatures.split(separator: " ").compactMap { part -> [UInt8]? in
            guard part.hasPrefix("v1,") else { return nil }
            return Data(base64Encoded: String(part.dropFirst(3))).map(Array.init)
        }
        for secret in secrets {
            let expected = signature(id: id, timestamp: timestamp, body: body, secret: secret)
            guard let expectedMac = Data(base64Encoded: String(expected.dropFirst(3))).map(Array.init) else { continue }
            for mac in received where mac.count == expectedMac.count {
                let same = mac.withUnsafeBytes { a in
                    expectedMac.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) }
                }
                if same == 0 { return }
            }
        }
        throw .noMatchingSignature
    }
}
