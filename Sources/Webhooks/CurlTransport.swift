import CCurl
import Foundation

/// One HTTP POST to make.
public struct HTTPRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var connectTimeout: Double
    public var timeout: Double
    /// Plain `http://` is refused unless the endpoint's configuration allows it (local receivers, tests).
    public var allowHTTP: Bool

    public init(
        url: String, headers: [(String, String)], body: [UInt8], connectTimeout: Double = 5, timeout: Double = 10,
        allowHTTP: Bool = false
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.allowHTTP = allowHTTP
    }
}

/// What came back: a status, or why there was none.
public struct HTTPResult: Sendable {
    public enum Failure: Sendable, Equatable, CustomStringConvertible {
        /// The URL or its scheme is wrong: retrying cannot help.
        case configuration(String)
        /// Refused, reset, DNS, TLS, timeout: worth retrying.
        case network(code: Int32, message: String)
        /// The run's delivery budget ran out before this request finished.
        case budgetExhausted

        public var description: String {
            switch self {
            case .configuration(let message): return message
            case .network(let code, let message): return "curl error \(code): \(message)"
            case .budgetExhausted: return "delivery budget of the run exhausted"
            }
        }
    }

    public var status: Int?
    public var failure: Failure?
    /// Seconds from a `Retry-After` header, when the response had one.
    public var retryAfter: Double?
    /// The start of the response body (capped), for `webhooks test` and error messages.
    public var body: [UInt8]
    public var seconds: Double
}

/// Posts requests concurrently through libcurl's multi interface, on a thread of its own so no
/// blocking call ever runs on Swift's cooperative pool. Every handle is cleaned up before
/// `perform` returns (OpenSSL's exit-time cleanup must find none, see swift-corelibs-foundation #5469).
public final class CurlTransport: Sendable {
    public let maxHostConnections: Int
    public let maxTotalConnections: Int
    /// Response bodies are read up to this many bytes; a longer (or endless) one is cut off.
    public let maxResponseBytes: Int

    public init(maxHostConnections: Int = 10, maxTotalConnections: Int = 200, maxResponseBytes: Int = 64 << 10) {
        _ = CurlTransport.globalInit
        self.maxHostConnections = maxHostConnections
        self.maxTotalConnections = maxTotalConnections
        self.maxResponseBytes = maxResponseBytes
    }

    /// `curl_global_init` exactly once per process.
    static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Performs every request, at most `budget` seconds in all; returns results in request order.
    public func perform(_ requests: [HTTPRequest], budget: Double) -> [HTTPResult] {
        guard !requests.isEmpty else { return [] }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            box.results = self.run(requests, budget: budget)
            done.signal()
        }
        thread.name = "projector-webhooks"
        thread.start()
        done.wait()
        return box.results
    }

    private final class ResultBox: @unchecked Sendable {
        var results: [HTTPResult] = []
    }

    /// Per-transfer state that libcurl points back to; freed after the transfer is removed.
    private final class Transfer {
        let index: Int
        let handle: UnsafeMutableRawPointer
        var headers: UnsafeMutablePointer<curl_slist>?
        let body: UnsafeMutableRawPointer
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        var response: [UInt8] = []
        let cap: Int
        var done = false

        init(index: Int, handle: UnsafeMutableRawPointer, body: [UInt8], cap: Int) {
            self.index = index
            self.handle = handle
            self.cap = cap
            self.body = UnsafeMutableRawPointer.allocate(byteCount: max(body.count, 1), alignment: 1)
            body.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress { self.body.copyMemory(from: source, byteCount: bytes.count) }
            }
            errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        }

        deinit {
            curl_slist_free_all(headers)
            body.deallocate()
            errorBuffer.deallocate()
        }
    }

    private func run(_ requests: [HTTPRequest], budget: Double) -> [HTTPResult] {
        let started = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        var results = [HTTPResult?](repeating: nil, count: requests.count)
        guard let multi = curl_multi_init() else {
            return requests.map { _ in
                HTTPResult(
                    status: nil, failure: .network(code: -1, message: "curl_multi_init failed"), body: [], seconds: 0)
            }
        }
        projector_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxHostConnections)
        projector_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxTotalConnections)
        var transfers: [Transfer] = []
        for (index, request) in requests.enumerated() {
            if let failure = Self.check(request) {
                results[index] = HTTPResult(status: nil, failure: failure, body: [], seconds: 0)
                continue
            }
            guard let handle = curl_easy_init() else {
                results[index] = HTTPResult(
                    status: nil, failure: .network(code: -1, message: "curl_easy_init failed"), body: [], seconds: 0)
                continue
            }
            let transfer = Transfer(index: index, handle: handle, body: request.body, cap: maxResponseBytes)
            configure(transfer, request)
            transfers.append(transfer)
            curl_multi_add_handle(multi, handle)
        }
        var running: Int32 = 0
        repeat {
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                    let transfer = transfers.first(where: { $0.handle == handle })
                else { continue }
                results[transfer.index] = result(of: transfer, code: message.pointee.data.result, seconds: elapsed())
                transfer.done = true
            }
            if running == 0 || elapsed() >= budget { break }
            curl_multi_poll(multi, nil, 0, 50, nil)
        } while true
        for transfer in transfers {
            if !transfer.done {
                results[transfer.index] = HTTPResult(
                    status: nil, failure: .budgetExhausted, body: transfer.response, seconds: elapsed())
            }
            curl_multi_remove_handle(multi, transfer.handle)
            curl_easy_cleanup(transfer.handle)
        }
        curl_multi_cleanup(multi)
        return results.map {
            $0 ?? HTTPResult(status: nil, failure: .network(code: -1, message: "not performed"), body: [], seconds: 0)
        }
    }

    /// Refuses what retrying cannot fix, before libcurl sees it.
    static func check(_ request: HTTPRequest) -> HTTPResult.Failure? {
        let lower = request.url.lowercased()
        if lower.hasPrefix("https://") { return nil }
        if lower.hasPrefix("http://") {
            return request.allowHTTP
                ? nil : .configuration("plain http is not allowed for this endpoint (set allowHTTP)")
        }
        if !lower.contains("://") { return .configuration("malformed URL: no scheme") }
        return .configuration("unsupported protocol: only https (and http when allowed) are delivered")
    }

    private func configure(_ transfer: Transfer, _ request: HTTPRequest) {
        let h = transfer.handle
        projector_easy_setopt_string(h, CURLOPT_URL, request.url)
        projector_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        projector_easy_setopt_long(h, CURLOPT_POST, 1)
        projector_easy_setopt_pointer(h, CURLOPT_POSTFIELDS, transfer.body)
        projector_easy_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
        projector_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        projector_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        projector_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        projector_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1)
        projector_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2)
        let protocols = request.allowHTTP ? "http,https" : "https"
        projector_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, protocols)
        projector_easy_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols)
        projector_easy_setopt_string(h, CURLOPT_USERAGENT, "projector-webhooks/1")
        projector_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, transfer.errorBuffer)
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers + [("Content-Type", "application/json"), ("Expect", "")] {
            list = curl_slist_append(list, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        transfer.headers = list
        projector_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list)
        projector_easy_setopt_pointer(h, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())
        projector_easy_setopt_write_function(h) { data, size, count, context in
            guard let context, let data else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            let room = transfer.cap - transfer.response.count
            guard room > 0 else { return 0 }  // stop reading an over-long response
            transfer.response.append(
                contentsOf: UnsafeRawBufferPointer(start: UnsafeRawPointer(data), count: min(length, room)))
            return length <= room ? length : 0
        }
    }

    private func result(of transfer: Transfer, code: CURLcode, seconds: Double) -> HTTPResult {
        var status = 0
        projector_easy_getinfo_long(transfer.handle, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: curl_off_t = 0
        projector_easy_getinfo_off(transfer.handle, CURLINFO_RETRY_AFTER, &retryAfter)
        let hasStatus = status > 0
        var failure: HTTPResult.Failure?
        if code != CURLE_OK && !(hasStatus && code == CURLE_WRITE_ERROR) {
            let detail = String(cString: transfer.errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            switch code {
            case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
                failure = .configuration(message)
            default:
                failure = .network(code: Int32(code.rawValue), message: message)
            }
        }
        return HTTPResult(
            status: failure == nil && hasStatus ? status : nil, failure: failure,
            retryAfter: retryAfter > 0 ? Double(retryAfter) : nil, body: transfer.response, seconds: seconds
        )
    }
}
