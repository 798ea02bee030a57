/// Epoch seconds as RFC 3339 (the ISO 8601 profile) in UTC: the one timestamp format of projector's
/// output, in webhook bodies, log lines, lock records and listings. Pure, so the core can use it.
public enum RFC3339 {
    /// `2026-11-26T10:00:00.250Z`; with `milliseconds: false`, `2026-11-26T10:00:00Z` (the second
    /// it falls in).
    public static func format(_ seconds: Double, milliseconds withMilliseconds: Bool = true) -> String {
        let milliseconds = withMilliseconds ? Int64((seconds * 1000).rounded()) : Int64(seconds.rounded(.down)) * 1000
        let ms = Int(milliseconds % 1000)
        var rest = Int(milliseconds / 1000)
        let days = rest / 86_400
        rest %= 86_400
        let (y, m, d) = civil(days: days)
        func pad(_ n: Int, _ width: Int = 2) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let time = "\(pad(rest / 3600)):\(pad(rest / 60 % 60)):\(pad(rest % 60))"
        return "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(time)" + (withMilliseconds ? ".\(pad(ms, 3))Z" : "Z")
    }

    /// Epoch seconds of an RFC 3339 timestamp (`2026-11-26T10:00:00.250Z`, `…+02:00`), or nil when
    /// the bytes are not one.
    package static func parse(_ text: UnsafeRawBufferPointer) -> Double? {
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= text.count else { return nil }
            var value = 0
            for _ in 0..<width {
                let byte = text[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func expect(_ bytes: UInt8...) -> Bool {
            guard index < text.count, bytes.contains(text[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(0x2D), let month = number(2), expect(0x2D), let day = number(2),
            expect(0x54, 0x74, 0x20), let hour = number(2), expect(0x3A), let minute = number(2), expect(0x3A),
            let second = number(2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var fraction = 0.0
        if index < text.count, text[index] == 0x2E {
            index += 1
            var scale = 0.1
            let start = index
            while index < text.count, text[index] >= 0x30, text[index] <= 0x39 {
                fraction += Double(text[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect(0x5A, 0x7A) {
        } else if index < text.count, text[index] == 0x2B || text[index] == 0x2D {
            let sign = text[index] == 0x2D ? -1 : 1
            index += 1
            guard let hours = number(2), expect(0x3A), let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == text.count else { return nil }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Double(seconds) + fraction
    }

    /// Epoch seconds of an RFC 3339 timestamp, or nil when the text is not one.
    public static func parse(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
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
