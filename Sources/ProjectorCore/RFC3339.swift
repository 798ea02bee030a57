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
