import ProjectorCore

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

    /// The `index`th event as a job's statements see it.
    @inline(__always)
    func eventLine(_ index: Int) -> EventLine {
        let event = events[index]
        return EventLine(position: event.position, fields: event.fields, base: line(event))
    }

    /// Adds an event's id (unescaped) to `ids`, with its hash.
    func appendID(
        of event: BatchEvent, span: ByteSpan, to ids: inout EventIDList,
        hash: (UnsafeRawBufferPointer) -> UInt64
    ) {
        let base = line(event)
        if span.escaped {
            var text = JSONText.decodeString(base, span)
            let hashed = text.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
            ids.append(text.utf8, position: event.position, hash: hashed)
        } else {
            let bytes = UnsafeRawBufferPointer(start: base + span.start, count: span.count)
            ids.append(bytes, position: event.position, hash: hash(bytes))
        }
    }

    /// An event's `occurredAt` in epoch seconds, when it is a plain RFC 3339 string.
    func occurredAt(of event: BatchEvent) -> Double? {
        guard let span = event.fields.occurredAt, event.fields.occurredAtKind == .string, !span.escaped else {
            return nil
        }
        return RFC3339.parse(UnsafeRawBufferPointer(start: line(event) + span.start, count: span.count))
    }

    /// The id (unescaped) of the event at `position`, when the batch holds it.
    func id(at position: Int) -> [UInt8]? {
        var low = 0
        var high = events.count
        while low < high {
            let middle = (low + high) / 2
            if events[middle].position < position { low = middle + 1 } else { high = middle }
        }
        guard low < events.count, events[low].position == position, let span = events[low].fields.id else {
            return nil
        }
        return Array(JSONText.decodeString(line(events[low]), span).utf8)
    }

    /// The bytes of an event's line.
    @inline(__always)
    func line(_ event: BatchEvent) -> UnsafeRawPointer {
        UnsafeRawPointer(arena.base + event.offset)
    }
}
