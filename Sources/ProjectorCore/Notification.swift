/// What a job's completion notification reports (SPEC §5), and its JSON body.
public struct Notification: Sendable, Equatable {
    public var job: String
    public var runID: Int
    public var fromPosition: Int
    public var toPosition: Int
    public var events: Int
    public var keys: [String]
    /// Distinct keys refreshed or applied; when `truncated`, more than `keys` lists.
    public var keysTotal: Int
    /// Whether more keys were touched than the notification lists.
    public var truncated: Bool
    public var failures: Int
    /// Epoch seconds when the notification was committed.
    public var timestamp: Double
    public var type: String

    public init(
        job: String, runID: Int, fromPosition: Int, toPosition: Int, events: Int, keys: [String], keysTotal: Int,
        failures: Int, truncated: Bool = false, timestamp: Double, type: String = "projection.refreshed"
    ) {
        self.truncated = truncated || keys.count > Self.keysCap
        self.job = job
        self.runID = runID
        self.fromPosition = fromPosition
        self.toPosition = toPosition
        self.events = events
        self.keys = keys
        self.keysTotal = keysTotal
        self.failures = failures
        self.timestamp = timestamp
        self.type = type
    }

    public static let keysCap = 1000

    /// A new notification id: `prefix` and 24 random letters and digits (never a `.`). Ids made in
    /// the same second differ, so a consumer that drops repeated `webhook-id`s never drops a new one.
    public static func newID(prefix: String = "msg_") -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return prefix
            + String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// The body, serialized once: these bytes are stored, signed and sent on every attempt.
    public var body: [UInt8] {
        let shown = keys.prefix(Self.keysCap)
        let total = truncated ? max(keysTotal, shown.count) : shown.count
        var json = #"{"type":"# + JSONEscape.quoted(type)
        json += #","timestamp":"# + JSONEscape.quoted(RFC3339.format(timestamp))
        json += #","data":{"job":"# + JSONEscape.quoted(job)
        json += #","runId":\#(runID),"fromPosition":\#(fromPosition),"toPosition":\#(toPosition)"#
        json += #","events":\#(events),"keys":["# + shown.map(JSONEscape.quoted).joined(separator: ",") + "]"
        json += #","keysTotal":\#(total),"truncated":\#(truncated)"#
        json += #","failures":\#(failures)}}"#
        return Array(json.utf8)
    }
}

/// JSON string escaping for the bodies projector writes itself.
public enum JSONEscape {
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Epoch seconds as RFC 3339 UTC with milliseconds, without Foundation.
public enum RFC3339 {
    public static func format(_ seconds: Double) -> String {
        let milliseconds = Int64((seconds * 1000).rounded())
        let ms = Int(milliseconds % 1000)
        var rest = Int(milliseconds / 1000)
        let days = rest / 86_400
        rest %= 86_400
        let (y, m, d) = civil(days: days)
        func pad(_ n: Int, _ width: Int = 2) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return
            "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(pad(rest / 3600)):\(pad(rest / 60 % 60)):\(pad(rest % 60)).\(pad(ms, 3))Z"
    }

    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
