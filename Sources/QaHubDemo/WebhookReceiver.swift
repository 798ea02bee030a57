public import Foundation
public import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP/1.1 receiver on 127.0.0.1 for the demo and the tests: it records every request,
/// verifies Standard Webhooks signatures when given secrets, and answers as told (a status, a
/// delay, a redirect, a closed connection).
public final class WebhookReceiver: @unchecked Sendable {
    public enum Behavior: Sendable {
        /// Answer with a status and headers after a delay.
        case respond(status: Int, headers: [String: String] = [:], delay: Double = 0)
        /// Close the connection without answering.
        case close
        /// Answer 200 and then stream a body that never ends (until the client goes away).
        case stream
    }

    public struct Request: Sendable {
        public var headers: [String: String]
        public var body: [UInt8]
        public var path: String
        /// nil when the receiver has no secrets to check with.
        public var verified: Bool?
        public var receivedAt: Date

        public var id: String { headers["webhook-id"] ?? "" }
        public var timestamp: String { headers["webhook-timestamp"] ?? "" }
        public var signature: String { headers["webhook-signature"] ?? "" }
        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }

    public let port: UInt16
    private let listener: Int32
    private let secrets: [WebhookSecret]
    private let behavior: @Sendable (Int) -> Behavior
    private let lock = NSLock()
    private var requests: [Request] = []
    private var stopped = false

    /// Starts listening on 127.0.0.1 (`port` 0 picks a free one). `behavior` gets the 0-based
    /// number of the request and says how to answer it.
    public init(
        port: UInt16 = 0, secrets: [WebhookSecret] = [],
        behavior: @escaping @Sendable (Int) -> Behavior = { _ in .respond(status: 200) }
    ) throws {
        self.secrets = secrets
        self.behavior = behavior
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 256) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: address.sin_port)
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "webhook-receiver"
        thread.start()
    }

    deinit { stop() }

    public var url: String { "http://127.0.0.1:\(port)/hooks" }

    /// Every request received so far.
    public var received: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return requests
    }

    /// Stops accepting connections.
    public func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        lock.unlock()
        if !wasStopped {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    /// Waits until `count` requests arrived (or the timeout passed).
    @discardableResult
    public func wait(for count: Int, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if received.count >= count { return true }
            usleep(10_000)
        }
        return received.count >= count
    }

    private func acceptLoop() {
        var number = 0
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                lock.lock()
                let done = stopped
                lock.unlock()
                if done || (errno != EINTR && errno != ECONNABORTED) { return }
                continue
            }
            let index = number
            number += 1
            // A plain pthread per connection: each may sleep for its configured delay, and
            // Foundation's Thread start-up turned out to cap how many answer at once.
            let job = Unmanaged.passRetained(ConnectionJob { [self] in handle(client, index: index) }).toOpaque()
            var thread = pthread_t()
            if pthread_create(
                &thread, nil,
                { context in
                    guard let context else { return nil }
                    let job = Unmanaged<ConnectionJob>.fromOpaque(context).takeRetainedValue()
                    job.body()
                    return nil
                }, job) == 0
            {
                pthread_detach(thread)
            } else {
                Unmanaged<ConnectionJob>.fromOpaque(job).release()
                close(client)
            }
        }
    }

    private func handle(_ client: Int32, index: Int) {
        defer { close(client) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
            headerEnd = Self.find([13, 10, 13, 10], in: buffer)
        }
        guard let end = headerEnd else { return }
        let head = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let path = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Array(buffer[(end + 4)...])
        while body.count < length {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { break }
            body += chunk[0..<n]
        }
        var verified: Bool?
        if !secrets.isEmpty {
            do {
                try WebhookSigner.verify(
                    headers: headers, body: body, secrets: secrets, now: Int(Date().timeIntervalSince1970))
                verified = true
            } catch {
                verified = false
            }
        }
        lock.lock()
        requests.append(Request(headers: headers, body: body, path: path, verified: verified, receivedAt: Date()))
        lock.unlock()
        switch behavior(index) {
        case .close:
            return
        case .stream:
            let head = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n".utf8)
            _ = head.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 16 << 10)
            var flags: Int32 = 0
            flags = Int32(MSG_NOSIGNAL)
            while chunk.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, flags) }) > 0 {}
        case .respond(let status, let extra, let delay):
            if delay > 0 { usleep(useconds_t(delay * 1_000_000)) }
            var response =
                "HTTP/1.1 \(status) \(status < 300 ? "OK" : "Status")\r\nContent-Length: 2\r\nConnection: close\r\n"
            for (name, value) in extra { response += "\(name): \(value)\r\n" }
            response += "\r\nok"
            let bytes = Array(response.utf8)
            _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
    }

    private final class ConnectionJob {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for i in 0...(bytes.count - pattern.count) where bytes[i..<(i + pattern.count)].elementsEqual(pattern) {
            return i
        }
        return nil
    }
}
