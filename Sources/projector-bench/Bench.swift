import ArgumentParser
import Foundation
import Journal
import ProjectorCore
import QaHubDemo
import Webhooks

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projector-bench",
        abstract: "Workload generation and measurements for projector's benchmark.",
        subcommands: [
            Generate.self, Simulate.self, Decode.self, Deliver.self, Naive.self, NaivePostgres.self, LoadPostgres.self,
            EventsWriter.self,
        ]
    )
}

/// Writes the demo's QaHub workload: a write model and a segmented journal, deterministic from a seed.
struct Generate: ParsableCommand {
    @Option(help: "Directory to create (emptied first).") var dir: String
    @Option(help: "Events to append.") var events = 1_000_000
    @Option(help: "Seed of the simulation.") var seed: UInt64 = 42

    func run() throws {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let appender = try JournalWriter(path: dir + "/journal", directory: true, segmentBytes: 64 << 20)
        let simulator = try QaHubSimulator(writeModelPath: dir + "/qahub.db", journal: appender, seed: seed)
        try simulator.bootstrap(projects: 50)
        try simulator.simulate(events: events, chunk: 5000)
        print("\(simulator.events) events in \(dir)")
    }
}

/// Decodes the same journal bytes with projector's scanner and with Foundation's `JSONDecoder`.
struct Decode: ParsableCommand {
    @Option(help: "Journal directory or file.") var journal: String
    @Option(help: "Repetitions (the median is reported).") var repeats = 3
    @Option(help: "Lines given to JSONDecoder (it is slow; the rate is per byte).") var decoderLines = 200_000

    func run() throws {
        var bytes: [UInt8] = []
        for segment in try Journal(path: journal).segments {
            bytes += try Array(Data(contentsOf: URL(fileURLWithPath: segment.path)))
        }
        var lines: [Range<Int>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            lines.append(start..<index)
            start = index + 1
        }
        let scanner = EventScanner()
        var scannerRates: [Double] = []
        var accepted = 0
        for _ in 0..<repeats {
            accepted = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            bytes.withUnsafeBytes { raw in
                for line in lines {
                    if case .success = scanner.scan(borrowing: UnsafeRawBufferPointer(rebasing: raw[line])) {
                        accepted += 1
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            scannerRates.append(Double(bytes.count) / seconds / 1e6)
        }
        let subset = lines.prefix(decoderLines)
        let subsetBytes = subset.reduce(0) { $0 + $1.count + 1 }
        let decoder = JSONDecoder()
        var decoderRates: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var decoded = 0
            for line in subset {
                if (try? decoder.decode(CodableEvent.self, from: Data(bytes[line]))) != nil { decoded += 1 }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            decoderRates.append(Double(subsetBytes) / seconds / 1e6)
            precondition(decoded == subset.count)
        }
        var typedRates: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for line in subset { _ = try? decoder.decode(TypedEvent.self, from: Data(bytes[line])) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            typedRates.append(Double(subsetBytes) / seconds / 1e6)
        }
        let scannerRate = scannerRates.sorted()[repeats / 2]
        let decoderRate = decoderRates.sorted()[repeats / 2]
        let typedRate = typedRates.sorted()[repeats / 2]
        print("lines: \(lines.count) (\(accepted) accepted), \(bytes.count / 1_000_000) MB, median of \(repeats)")
        print(
            String(
                format: "scanner:                         %7.1f MB/s  (%.0f events/s)", scannerRate,
                scannerRate * 1e6 / Double(bytes.count) * Double(lines.count)))
        print(
            String(
                format: "JSONDecoder, data as JSON values: %7.1f MB/s  ratio %.1fx", decoderRate,
                scannerRate / decoderRate))
        print(
            String(
                format: "JSONDecoder, data as a struct:    %7.1f MB/s  ratio %.1fx", typedRate, scannerRate / typedRate)
        )
    }
}

/// Delivers notifications to receivers on 127.0.0.1 that answer after a delay, all at once
/// through libcurl's multi interface, and compares with what a serial sender would need.
struct Deliver: ParsableCommand {
    @Option(help: "Notifications in all.") var notifications = 100
    @Option(help: "Endpoints (one receiver port each).") var endpoints = 10
    @Option(help: "Seconds each receiver takes to answer.") var delay = 0.2
    @Option(help: "Repetitions (the median is reported).") var repeats = 5
    @Option(help: "Use receivers already listening on 127.0.0.1 from this port on, instead of starting them.")
    var externalPort: Int?

    func run() throws {
        let receivers = try (0..<(externalPort == nil ? endpoints : 0)).map { _ in
            try WebhookReceiver { [delay] _ in .respond(status: 200, delay: delay) }
        }
        let urls = (0..<endpoints).map { i in
            externalPort.map { "http://127.0.0.1:\($0 + i)/hooks" } ?? receivers[i].url
        }
        let secret = try WebhookSecret(WebhookSecret.generate())
        let body = Array(#"{"type":"projection.refreshed","data":{"job":"bench"}}"#.utf8)
        var times: [Double] = []
        for round in 0..<repeats {
            let requests = (0..<notifications).map { i in
                WebhookEndpoint(
                    name: "e\(i % endpoints)", url: urls[i % endpoints], secrets: [secret], allowHTTP: true
                ).request(messageID: "msg_\(round)_\(i)", body: body, timestamp: Int(Date().timeIntervalSince1970))
            }
            let started = DispatchTime.now().uptimeNanoseconds
            let results = CurlTransport().perform(requests, budget: 60)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            precondition(results.allSatisfy { $0.status == 200 }, "a delivery failed")
        }
        let median = times.sorted()[repeats / 2]
        let serial = Double(notifications) * delay
        print(
            "\(notifications) notifications over \(endpoints) endpoints answering after \(delay) s, median of \(repeats):"
        )
        print(
            String(format: "concurrent: %.3f s   serial sender: %.1f s   ratio %.0fx", median, serial, serial / median))
    }
}

/// A full Codable event, `data` and `metadata` decoded as nested JSON values.
struct CodableEvent: Decodable {
    var id: String?
    var type: String
    var aggregateType: String
    var aggregateId: AggregateID
    var occurredAt: String?
    var data: JSONValue?
    var metadata: JSONValue?

    enum AggregateID: Decodable {
        case string(String)
        case integer(Int64)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int64.self) {
                self = .integer(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }
}

/// The most favourable case for `JSONDecoder`: `data` decoded into a struct of known fields.
struct TypedEvent: Decodable {
    struct Payload: Decodable {
        var testRunId: String?
        var projectId: String?
        var status: String?
        var durationMs: Int?
    }

    struct Metadata: Decodable {
        var userId: String?
        var source: String?
    }

    var id: String?
    var type: String
    var aggregateType: String
    var aggregateId: CodableEvent.AggregateID
    var occurredAt: String?
    var data: Payload?
    var metadata: Metadata?
}

indirect enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Cheapest order for event payloads (strings, then numbers, then objects): every failed
        // attempt throws, so a bad order would make the baseline look slower than it is.
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }
}
