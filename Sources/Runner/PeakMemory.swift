import Foundation

/// The process's peak resident memory.
///
/// `getrusage`'s `ru_maxrss` survives `execve`: a process started by `posix_spawn` from a large
/// parent reports the parent's peak as its own. The kernel's high-water mark of this program's
/// own address space (`VmHWM` in `/proc/self/status`) does not, so it is read first.
enum PeakMemory {
    static func bytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.dropFirst(6).filter(\.isNumber))
        {
            return kilobytes * 1024
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }
}
