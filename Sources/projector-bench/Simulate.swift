import ArgumentParser
import Foundation
import Journal
import QaHubDemo

/// The QaHub API going on: appends more events to an existing workload (write model + journal),
/// optionally at a steady rate, and reports how long its own write transactions took.
struct Simulate: ParsableCommand {
    @Option(help: "The workload directory (from `generate`).") var dir: String
    @Option(help: "Events to append.") var events = 1000
    @Option(help: "Events a second (0: as fast as possible).") var rate = 0.0
    @Option(help: "Seed (different rounds should use different seeds).") var seed: UInt64 = 7

    func run() throws {
        let writer = try JournalWriter(path: dir + "/journal", directory: true, segmentBytes: 64 << 20)
        let simulator = try QaHubSimulator(writeModelPath: dir + "/qahub.db", journal: writer, seed: seed)
        let chunk = rate > 0 ? max(1, Int(rate / 20)) : 1000
        var latencies: [Double] = []
        let started = Date()
        var done = 0
        while done < events {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try simulator.simulate(events: min(chunk, events - done), chunk: chunk)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            done = simulator.events
            if rate > 0 {
                let due = started.addingTimeInterval(Double(done) / rate)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { usleep(useconds_t(wait * 1_000_000)) }
            }
        }
        latencies.sort()
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        let result: [String: Double] = [
            "events": Double(done), "seconds": Date().timeIntervalSince(started), "chunks": Double(latencies.count),
            "chunkEvents": Double(chunk), "writeMillisecondsMax": latencies.last ?? 0, "writeMillisecondsP99": p99,
            "writeMillisecondsMedian": latencies[latencies.count / 2],
        ]
        print(
            String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
