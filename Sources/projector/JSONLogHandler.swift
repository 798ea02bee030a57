import Foundation
import Logging
import ProjectorCore

/// One JSON object per line on standard error, for journald, Loki and friends:
/// `{"ts":"…","level":"info","label":"projector","msg":"…","run_id":"12",…}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = #"{"ts":"# + JSONEscape.quoted(RFC3339.format(Date().timeIntervalSince1970))
        line += #","level":"# + JSONEscape.quoted(event.level.rawValue)
        line += #","label":"# + JSONEscape.quoted(label)
        line += #","msg":"# + JSONEscape.quoted(event.message.description)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += "," + JSONEscape.quoted(key) + ":" + JSONEscape.quoted(value.description)
        }
        line += "}\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
