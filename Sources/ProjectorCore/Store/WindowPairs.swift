/// The duplicate window's storage format, the same for every store: rows of `(hash, position)`
/// pairs, two little-endian 64-bit integers each, sorted by hash (docs/operations.md, "The
/// duplicate window"). A row per batch rather than a row per id: one write per batch, pruning by
/// whole rows, and a lookup that walks each row against the batch's sorted hashes.
package enum WindowPairs {
    /// Bytes of one pair.
    package static let pairBytes = 16

    /// Whether a batch's `fresh` ids go into the latest row (holding `ids` ids, opened when the
    /// latest `occurredAt` recorded was `openedAt`) rather than into a row of their own: while that
    /// row holds less than a sixteenth of the window, in ids and in time, so that a watch's small
    /// batches do not leave thousands of rows to read.
    package static func addsToLatestRow(
        holding ids: Int, fresh: Int, openedAt: Double?, occurred: Double?, window: DuplicateWindow
    ) -> Bool {
        guard ids + fresh <= max(window.events / 16, 1), let from = openedAt ?? occurred else { return false }
        return (occurred ?? from) - from < window.seconds / 16
    }

    /// A row to write: a batch's fresh pairs, in a row of their own or added to the latest one.
    package struct Row {
        package var pairs: [UInt8]
        package var firstPosition: Int
        package var lastPosition: Int
        package var ids: Int
        /// The latest `occurredAt` recorded when the row was opened.
        package var occurredFrom: Double?

        package init(fresh: [(hash: Int64, position: Int)], occurred: Double?) {
            pairs = pack(fresh)
            firstPosition = fresh.map(\.position).min() ?? 0
            lastPosition = fresh.map(\.position).max() ?? 0
            ids = fresh.count
            occurredFrom = occurred
        }

        /// Adds the latest row's pairs and bounds to these.
        package mutating func add(
            latest: UnsafeRawBufferPointer, firstPosition: Int, lastPosition: Int, ids: Int, occurredFrom: Double?
        ) {
            pairs = merge(latest, pairs)
            self.firstPosition = min(self.firstPosition, firstPosition)
            self.lastPosition = max(self.lastPosition, lastPosition)
            self.ids += ids
            self.occurredFrom = occurredFrom
        }
    }

    /// Pairs as a row's bytes.
    package static func pack(_ pairs: [(hash: Int64, position: Int)]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: pairs.count * pairBytes)
        bytes.withUnsafeMutableBytes { buffer in
            for (index, pair) in pairs.enumerated() {
                buffer.storeBytes(of: pair.hash.littleEndian, toByteOffset: index * pairBytes, as: Int64.self)
                buffer.storeBytes(
                    of: Int64(pair.position).littleEndian, toByteOffset: index * pairBytes + 8, as: Int64.self)
            }
        }
        return bytes
    }

    /// Two rows' bytes merged into one, sorted by hash.
    package static func merge(_ old: UnsafeRawBufferPointer, _ new: [UInt8]) -> [UInt8] {
        new.withUnsafeBytes { new in
            var merged = [UInt8]()
            merged.reserveCapacity(old.count + new.count)
            var a = 0
            var b = 0
            while a < old.count || b < new.count {
                let takeOld = b >= new.count || (a < old.count && hash(old, a) <= hash(new, b))
                if takeOld {
                    merged.append(contentsOf: old[a..<a + pairBytes])
                    a += pairBytes
                } else {
                    merged.append(contentsOf: new[b..<b + pairBytes])
                    b += pairBytes
                }
            }
            return merged
        }
    }

    static func hash(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> Int64 {
        Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: Int64.self))
    }

    /// A batch's ids looked up in the window's rows: feed it every row (`match`), then `finish`.
    package struct Lookup {
        let ids: EventIDList
        /// The ids' indices sorted by (hash, position).
        let order: [Int]
        var first: [Int]
        var known: [Bool]

        package init(_ ids: EventIDList) {
            self.ids = ids
            var order = Array(0..<ids.count)
            order.sort { (ids.hashes[$0], ids.positions[$0]) < (ids.hashes[$1], ids.positions[$1]) }
            self.order = order
            first = ids.positions
            known = [Bool](repeating: false, count: ids.count)
        }

        /// Walks one row's pairs against the batch's hashes (both sorted) and lowers `first`
        /// where a hash matches.
        package mutating func match(_ pairs: UnsafeRawBufferPointer) {
            let stored = pairs.count / pairBytes
            let hashes = ids.hashes
            var a = 0
            var b = 0
            while a < order.count, b < stored {
                let batchHash = hashes[order[a]]
                let storedHash = hash(pairs, b * pairBytes)
                if batchHash < storedHash {
                    a += 1
                } else if batchHash > storedHash {
                    b += 1
                } else {
                    let position = Int(hash(pairs, b * pairBytes + 8))
                    var index = a
                    while index < order.count, hashes[order[index]] == batchHash {
                        first[order[index]] = min(first[order[index]], position)
                        known[order[index]] = true
                        index += 1
                    }
                    b += 1
                }
            }
        }

        /// For each id, the earliest position an id with its hash was seen at (in the window or
        /// earlier in the batch; its own when it is the first), and the pairs to record: the
        /// first of each hash the window does not know yet, sorted by hash.
        package func finish() -> (first: [Int], fresh: [(hash: Int64, position: Int)]) {
            var first = self.first
            var fresh: [(hash: Int64, position: Int)] = []
            var start = 0
            while start < order.count {
                let hash = ids.hashes[order[start]]
                var end = start
                var earliest = Int.max
                while end < order.count, ids.hashes[order[end]] == hash {
                    earliest = min(earliest, first[order[end]])
                    end += 1
                }
                if !known[order[start]] { fresh.append((hash, ids.positions[order[start]])) }
                for index in start..<end { first[order[index]] = earliest }
                start = end
            }
            return (first, fresh)
        }
    }
}
