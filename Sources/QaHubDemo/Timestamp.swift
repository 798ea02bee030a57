import ProjectorCore

/// Formats epoch milliseconds as RFC 3339 UTC (`2026-11-26T10:00:00.000Z`).
public enum Timestamp {
    public static func iso(milliseconds: Int64) -> String {
        RFC3339.format(Double(milliseconds) / 1000)
    }
}
