import Journal
import ProjectorCore
import Runner

/// The naive pattern's walk over a journal prefix: each event as it is read, then each (job, key)
/// it concerns, the way a run routes and keys it. Shared by the SQLite and PostgreSQL baselines.
enum RoutedEvents {
    /// Calls `body` with each (job, key) of the first `events` accepted events of `journal`;
    /// returns how many events it read.
    static func forEach(
        journal: String, jobs: [JobDefinition], events: Int,
        _ body: (_ job: Int, _ key: String, _ event: ScannedLine, _ position: Int, _ base: UnsafeRawPointer) throws
            -> Void
    ) throws -> Int {
        var router = EventRouter(jobs: jobs)
        let scanner = EventScanner()
        let cursor = try Journal(path: journal).cursor(from: 0)
        var handled = 0
        while handled < events, let item = try cursor.next() {
            guard case .line(let position, _, let bytes) = item, let base = bytes.baseAddress,
                case .success(let event) = scanner.scan(borrowing: bytes), let type = event.text(\.type)
            else { continue }
            handled += 1
            for route in router.routes(for: type) {
                for source in route.keys {
                    guard case .success(let key) = BatchBuilder.key(source, of: event) else { continue }
                    try body(route.job, key, event, position, base)
                }
            }
        }
        return handled
    }
}
