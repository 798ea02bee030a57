/// Formats epoch milliseconds as RFC 3339 UTC (`2026-11-26T10:00:00.000Z`) without Foundation,
/// using the days-to-civil-date algorithm of Howard Hinnant's date library.
public enum Timestamp {
    public static func iso(milliseconds: Int64) -> String {
        let ms = Int(milliseconds % 1000)
        var seconds = Int(milliseconds / 1000)
        let days = seconds / 86_400
        seconds %= 86_400
        let (y, m, d) = civil(days: days)
        return
            "\(y)-\(pad(m))-\(pad(d))T\(pad(seconds / 3600)):\(pad(seconds / 60 % 60)):\(pad(seconds % 60)).\(pad3(ms))Z"
    }

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

    static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    static func pad3(_ n: Int) -> String { n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)" }
}
