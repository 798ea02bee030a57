import Foundation
import Testing
import Webhooks

/// Standard Webhooks signing and verification, and the secrets they use.
@Suite struct SignatureTests {
    @Test func reproducesTheStandardWebhooksTestVector() throws {
        let secret = try WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = WebhookSigner.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
            secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        try WebhookSigner.verify(
            headers: [
                "Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                "webhook-signature": "v1,bm9wZQ== " + signature,
            ],
            body: Array(#"{"test": 2432232314}"#.utf8), secrets: [secret], now: 1_614_265_400)
    }

    @Test func verificationRejectsTamperingAndStaleTimestamps() throws {
        let secret = try WebhookSecret(WebhookSecret.generate())
        let body = Array(#"{"a":1}"#.utf8)
        let header = WebhookSigner.header(id: "msg_x", timestamp: 1000, body: body, secrets: [secret])
        let headers = ["webhook-id": "msg_x", "webhook-timestamp": "1000", "webhook-signature": header]
        #expect(throws: WebhookSigner.VerificationError.noMatchingSignature) {
            try WebhookSigner.verify(headers: headers, body: Array(#"{"a":2}"#.utf8), secrets: [secret], now: 1000)
        }
        #expect(throws: WebhookSigner.VerificationError.timestampOutOfTolerance(skew: 1000)) {
            try WebhookSigner.verify(headers: headers, body: body, secrets: [secret], now: 2000)
        }
        let other = try WebhookSecret(WebhookSecret.generate())
        #expect(throws: WebhookSigner.VerificationError.noMatchingSignature) {
            try WebhookSigner.verify(headers: headers, body: body, secrets: [other], now: 1000)
        }
    }

    @Test(arguments: ["nope", "whsec_!!!", "whsec_" + Data(count: 16).base64EncodedString(), "whsec_"])
    func invalidSecretsAreRefused(text: String) {
        #expect(throws: WebhookSecret.Problem.self) { try WebhookSecret(text) }
    }

    @Test func aListOfSecretsIsSplitOnWhitespaceAndNeverPrinted() throws {
        let (old, new) = (WebhookSecret.generate(), WebhookSecret.generate())
        let secrets = try WebhookSecret.list(" \(old)\n\t\(new) ")
        #expect(secrets.map(\.key) == [try WebhookSecret(old).key, try WebhookSecret(new).key])
        #expect(secrets.allSatisfy { $0.key.count == 32 })
        #expect(!"\(secrets)".contains(String(old.dropFirst(6).prefix(8))))
        #expect(throws: WebhookSecret.Problem.self) { try WebhookSecret.list(" \n") }
    }

    /// Every secret of a rotation signs; a receiver holding either one accepts the request.
    @Test func aHeaderCarriesOneSignaturePerSecret() throws {
        let old = try WebhookSecret(WebhookSecret.generate())
        let new = try WebhookSecret(WebhookSecret.generate())
        let body = Array(#"{"a":1}"#.utf8)
        let header = WebhookSigner.header(id: "msg_r", timestamp: 50, body: body, secrets: [new, old])
        #expect(header.split(separator: " ").count == 2)
        for secret in [old, new] {
            try WebhookSigner.verify(
                headers: ["webhook-id": "msg_r", "webhook-timestamp": "50", "webhook-signature": header], body: body,
                secrets: [secret], now: 50)
        }
        #expect(throws: WebhookSigner.VerificationError.missingHeader("webhook-id")) {
            try WebhookSigner.verify(
                headers: ["webhook-timestamp": "50", "webhook-signature": header], body: body, secrets: [old], now: 50)
        }
    }
}
