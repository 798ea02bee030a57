#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time in seconds since 1970, injectable so tests can move time forward for backoff.
public protocol WallClock: Sendable {
    func now() -> Double
}

public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Monotonic seconds, for durations.
public enum Monotonic {
    public static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
