import Foundation
import QaHubDemo
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

/// libcurl's multi interface against a real HTTP receiver on 127.0.0.1.
@Suite struct CurlTransportTests {
    static func request(
        _ url: String, secret: WebhookSecret? = nil, id: String = "msg_1", timeout: Double = 10,
        body: [UInt8] = Array("{}".utf8)
    ) throws -> HTTPRequest {
        let secret = try secret ?? WebhookSecret(WebhookSecret.generate())
        return WebhookEndpoint(
            name: "e", url: url, secrets: [secret], timeout: timeout, connectTimeout: 2, allowHTTP: true
        )
        .request(messageID: id, body: body, timestamp: Int(Date().timeIntervalSince1970))
    }

    @Test func aSignedPostReachesTheReceiverWithItsBodyAndHeaders() throws {
        let secret = try WebhookSecret(WebhookSecret.generate())
        let receiver = try WebhookReceiver(secrets: [secret])
        let body = Array(#"{"type":"projection.refreshed"}"#.utf8)
        let result = CurlTransport().perform(
            [try Self.request(receiver.url, secret: secret, id: "msg_abc", body: body)], budget: 30)[0]
        #expect(result.status == 200)
        #expect(result.failure == nil)
        #expect(String(decoding: result.body, as: UTF8.self) == "ok")
        let received = try #require(receiver.received.first)
        #expect(received.verified == true)
        #expect(received.id == "msg_abc")
        #expect(received.body == body)
        #expect(received.headers["content-type"]?.hasPrefix("application/json") == true)
    }

    @Test func aRedirectIsReturnedNotFollowed() throws {
        let target = try WebhookReceiver()
        let receiver = try WebhookReceiver { _ in .respond(status: 302, headers: ["Location": target.url]) }
        let result = CurlTransport().perform([try Self.request(receiver.url)], budget: 30)[0]
        #expect(result.status == 302)
        #expect(target.received.isEmpty)
    }

    @Test func retryAfterIsRead() throws {
        let receiver = try WebhookReceiver { _ in .respond(status: 503, headers: ["Retry-After": "120"]) }
        let result = CurlTransport().perform([try Self.request(receiver.url)], budget: 30)[0]
        #expect(result.status == 503)
        #expect(result.retryAfter == 120)
    }

    @Test func aRefusedConnectionOrATimeoutIsANetworkFailure() throws {
        let closed = try ClosedPort()
        let release = DispatchSemaphore(value: 0)
        let slow = try WebhookReceiver { _ in
            _ = release.wait(timeout: .now() + 30)
            return .respond(status: 200)
        }
        defer { release.signal() }
        let results = CurlTransport().perform(
            [try Self.request(closed.url), try Self.request(slow.url, timeout: 0.5)], budget: 30)
        for result in results {
            #expect(result.status == nil)
            guard case .network = result.failure else {
                Issue.record("not a network failure: \(String(describing: result.failure))")
                continue
            }
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "not a url"])
    func aWrongURLIsAConfigurationFailure(url: String) throws {
        let result = CurlTransport().perform([try Self.request(url)], budget: 30)[0]
        #expect(result.status == nil)
        guard case .configuration = result.failure else {
            Issue.record("not a configuration failure: \(String(describing: result.failure))")
            return
        }
    }

    /// A consumer that streams an endless response: the body is cut at 64 KiB and the delivery
    /// counts (it answered 200).
    @Test func anEndlessResponseIsCutOff() throws {
        let receiver = try WebhookReceiver { _ in .stream }
        let secret = try WebhookSecret(WebhookSecret.generate())
        let result = CurlTransport().perform(
            [
                WebhookEndpoint(name: "e", url: receiver.url, secrets: [secret], timeout: 20, allowHTTP: true)
                    .request(messageID: "msg_1", body: Array("{}".utf8), timestamp: 1)
            ], budget: 30)[0]
        #expect(result.status == 200)
        #expect(result.body.count == 64 << 10)
    }

    /// 100 notifications over 10 endpoints answering after 200 ms go out concurrently: the first
    /// request is answered only once another one has arrived, which a serial sender never does
    /// (the exact figure comes from `projector-bench webhooks`).
    @Test func deliveriesToManyEndpointsRunConcurrently() throws {
        let arrived = Atomic(0)
        let overlapped = Atomic(false)
        let receivers = try (0..<10).map { _ in
            try WebhookReceiver { _ in
                if arrived.update({ $0 + 1 }) == 1 {
                    let deadline = Date().addingTimeInterval(10)
                    while arrived.value < 2 && Date() < deadline { usleep(10_000) }
                    overlapped.value = arrived.value >= 2
                } else {
                    usleep(200_000)
                }
                return .respond(status: 200)
            }
        }
        let secret = try WebhookSecret(WebhookSecret.generate())
        let requests = (0..<100).map { i in
            WebhookEndpoint(
                name: "e\(i % 10)", url: receivers[i % 10].url, secrets: [secret], timeout: 30, allowHTTP: true
            )
            .request(messageID: "msg_\(i)", body: Array("{}".utf8), timestamp: 1)
        }
        let results = CurlTransport().perform(requests, budget: 60)
        #expect(results.allSatisfy { $0.status == 200 })
        #expect(receivers.map { $0.received.count } == Array(repeating: 10, count: 10))
        #expect(overlapped.value, "no request arrived while the first was unanswered: deliveries were serial")
    }
}
