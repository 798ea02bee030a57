import Webhooks

/// `--ping-url`, in the healthchecks.io convention: `URL/start` when a run or a watch starts, then
/// `URL` when it ends well or `URL/fail` when it does not, the body saying what happened. A ping
/// that fails never changes the outcome: it is only reported.
public struct HealthcheckPing: Sendable {
    public enum Kind: String, Sendable {
        case start = "/start"
        case success = ""
        case fail = "/fail"
    }

    public var url: String

    public init(url: String) {
        self.url = url
    }

    /// Sends one ping (at most about 11 s); returns why it failed, nil when it was delivered.
    public func send(_ kind: Kind, body: String) -> String? {
        let request = HTTPRequest(
            url: url + kind.rawValue, headers: [], body: Array(body.utf8), timeout: 10, allowHTTP: true)
        return CurlTransport().perform([request], budget: 11).first?.failure.map { "\($0)" }
    }
}
