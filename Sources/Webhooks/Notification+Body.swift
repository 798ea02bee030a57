import Foundation
public import ProjectorCore

extension ProjectorCore.Notification {
    /// The JSON body (SPEC §5): `{"data":{…},"timestamp":"…","type":"…"}`, with keys sorted so the same
    /// notification always gives the same bytes. It is serialized once, stored in the outbox, and
    /// these bytes are signed and sent on every attempt.
    public var body: [UInt8] {
        let shown = Array(keys.prefix(Self.keysCap))
        let payload = Payload(
            type: type, timestamp: Date(timeIntervalSince1970: timestamp),
            data: .init(
                job: job, runId: runID, fromPosition: fromPosition, toPosition: toPosition, events: events,
                keys: shown, keysTotal: truncated ? max(keysTotal, shown.count) : shown.count, truncated: truncated,
                failures: failures))
        do {
            return Array(try Self.encoder.encode(payload))
        } catch {
            // Strings, integers, booleans and a formatted date always encode.
            preconditionFailure("a notification body failed to encode: \(error)")
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date.timeIntervalSince1970))
        }
        return encoder
    }

    private struct Payload: Encodable {
        var type: String
        var timestamp: Date
        var data: Data

        struct Data: Encodable {
            var job: String
            var runId: Int
            var fromPosition: Int
            var toPosition: Int
            var events: Int
            var keys: [String]
            var keysTotal: Int
            var truncated: Bool
            var failures: Int
        }
    }
}
