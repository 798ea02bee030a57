public import ProjectorCore

/// A configured webhook consumer.
public struct WebhookEndpoint: Sendable {
    public var name: String
    public var url: String
    /// The signing secrets; empty when the command does not sign (its secret was never read).
    public var secrets: [WebhookSecret]
    /// Jobs this endpoint wants, besides the jobs that name it under `webhooks:` ("*" for all).
    public var jobs: Set<String>
    public var timeout: Double
    public var connectTimeout: Double
    public var policy: DeliveryPolicy
    public var allowHTTP: Bool

    public init(
        name: String, url: String, secrets: [WebhookSecret], jobs: Set<String> = [], timeout: Double = 10,
        connectTimeout: Double = 5, policy: DeliveryPolicy = DeliveryPolicy(), allowHTTP: Bool = false
    ) {
        self.name = name
        self.url = url
        self.secrets = secrets
        self.jobs = jobs
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.policy = policy
        self.allowHTTP = allowHTTP
    }

    /// Whether notifications of `job` go to this endpoint.
    public func wants(_ job: JobDefinition) -> Bool {
        jobs.contains("*") || jobs.contains(job.name) || job.webhooks.contains(name)
    }

    /// The signed request for one attempt: the stored body, a fresh timestamp.
    public func request(messageID: String, body: [UInt8], timestamp: Int) -> HTTPRequest {
        HTTPRequest(
            url: url,
            headers: [
                ("webhook-id", messageID),
                ("webhook-timestamp", String(timestamp)),
                (
                    "webhook-signature",
                    WebhookSigner.header(id: messageID, timestamp: timestamp, body: body, secrets: secrets)
                ),
            ],
            body: body, connectTimeout: connectTimeout, timeout: timeout, allowHTTP: allowHTTP
        )
    }
}
