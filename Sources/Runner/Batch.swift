import ProjectorCore
import SQLiteStore

/// An accepted event of a batch: where its line sits in the arena and what the scanner found.
struct BatchEvent {
    var position: Int
    /// Bytes in the journal, line ending included.
    var length: Int
    var offset: Int
    var lineLength: Int
    var fields: EventFields
}

/// One (event, job, key) triple, in journal order.
struct KeyedEvent {
    var event: Int32
    var job: Int32
    var key: String
}

/// The lines between two positions, decoded, routed to jobs and keyed: one transaction's worth.
final class Batch {
    let arena: ByteArena
    var events: [BatchEvent] = []
    var keyed: [KeyedEvent] = []
    var rejects: [Reject] = []
    var jobRejects: [(job: Int, reject: Reject)] = []
    /// Positions covered: `start..<end`.
    var start = 0
    var end = 0

    init(capacity: Int) {
        arena = ByteArena(capacity: capacity)
    }

    func reset(at position: Int) {
        arena.reset()
        events.removeAll(keepingCapacity: true)
        keyed.removeAll(keepingCapacity: true)
        rejects.removeAll(keepingCapacity: true)
        jobRejects.removeAll(keepingCapacity: true)
        start = position
        end = position
    }

    var isEmpty: Bool { end == start }

    /// The bytes of an event's line.
    @inline(__always)
    func line(_ event: BatchEvent) -> UnsafeRawPointer {
        UnsafeRawPointer(arena.base + event.offset)
    }
}
