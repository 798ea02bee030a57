import Foundation
import Journal
import ProjectorCore
import TestSupport
import Testing

/// Reads every item from `position` as (position, text or marker).
func readAll(_ journal: Journal, from position: Int = 0, maxLineBytes: Int = 1 << 20) throws -> [(Int, String)] {
    let cursor = try journal.cursor(from: position, maxLineBytes: maxLineBytes)
    var items: [(Int, String)] = []
    while let item = try cursor.next() {
        switch item {
        case .line(let p, _, let bytes): items.append((p, String(decoding: bytes, as: UTF8.self)))
        case .oversized(let p, let length, _): items.append((p, "<oversized \(length)>"))
        case .unterminated(let p, let length, let segment, _):
            items.append((p, "<unterminated \(length) in \(segment)>"))
        }
    }
    return items
}

@Suite struct JournalReadingTests {
    @Test func positionsAreByteOffsetsAndATornTailWaits() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "a\nbb\r\nccc\npartial")
        let journal = try Journal(path: dir.file("j.jsonl"))
        let items = try readAll(journal)
        #expect(items.map(\.0) == [0, 2, 6])
        #expect(items.map(\.1) == ["a", "bb", "ccc"])
        #expect(try journal.lastLineBoundary() == 10)

        // When the writer completes the line, a later read picks it up from its position.
        try dir.append("j.jsonl", " done\n")
        let later = try readAll(try Journal(path: dir.file("j.jsonl")), from: 10)
        #expect(later.map(\.0) == [10])
        #expect(later.map(\.1) == ["partial done"])
    }

    @Test func emptyLinesAreItems() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "a\n\n\nb\n")
        #expect(try readAll(try Journal(path: dir.file("j.jsonl"))).map(\.1) == ["a", "", "", "b"])
    }

    @Test func segmentsShareOneGlobalPositionSpace() throws {
        let dir = TemporaryDirectory()
        try dir.write("journal/" + Segment.fileName(for: 0), "one\ntwo\n")
        try dir.write("journal/" + Segment.fileName(for: 8), "three\n")
        try dir.write("journal/notes.txt", "ignored")
        let journal = try Journal(path: dir.file("journal"))
        #expect(journal.segments.count == 2)
        #expect(journal.end == 14)
        let items = try readAll(journal)
        #expect(items.map(\.0) == [0, 4, 8])
        #expect(items.map(\.1) == ["one", "two", "three"])
        #expect(try readAll(journal, from: 8).map(\.1) == ["three"])
    }

    @Test func aSegmentEndingMidLineBeforeAnotherIsRejectedNotWaitedFor() throws {
        let dir = TemporaryDirectory()
        try dir.write("journal/" + Segment.fileName(for: 0), "one\ntorn")
        try dir.write("journal/" + Segment.fileName(for: 8), "next\n")
        let items = try readAll(try Journal(path: dir.file("journal")))
        #expect(items.map(\.1) == ["one", "<unterminated 4 in 00000000000000000000.jsonl>", "next"])
        #expect(items.map(\.0) == [0, 4, 8])
    }

    @Test func missingBytesBetweenSegmentsAreAnError() throws {
        let dir = TemporaryDirectory()
        try dir.write("journal/" + Segment.fileName(for: 0), "one\n")
        try dir.write("journal/" + Segment.fileName(for: 10), "two\n")
        #expect(throws: JournalError.self) { try Journal(path: dir.file("journal")) }
    }

    @Test func oversizedLinesAreSkippedWithoutHoldingThem() throws {
        let dir = TemporaryDirectory()
        let big = String(repeating: "x", count: 3 << 20)
        try dir.write("j.jsonl", "small\n" + big + "\nafter\n")
        let items = try readAll(try Journal(path: dir.file("j.jsonl")), maxLineBytes: 1024)
        #expect(items.map(\.1) == ["small", "<oversized \((3 << 20) + 1)>", "after"])
        #expect(items[2].0 == 6 + (3 << 20) + 1)
    }

    @Test func anIncompleteOversizedTailWaitsToo() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "a\n" + String(repeating: "y", count: 5000))
        #expect(try readAll(try Journal(path: dir.file("j.jsonl")), maxLineBytes: 100).map(\.1) == ["a"])
    }

    @Test func missingJournalIsNotFound() {
        #expect(throws: JournalError.notFound(path: "/nonexistent/journal")) {
            try Journal(path: "/nonexistent/journal")
        }
    }
}

@Suite struct CursorAnchorTests {
    func journal(_ dir: TemporaryDirectory) throws -> Journal { try Journal(path: dir.file("j.jsonl")) }

    @Test func anIntactJournalVerifies() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "first\nsecond\n")
        let anchor = try journal(dir).anchor(at: 13)
        try dir.append("j.jsonl", "third\n")
        try journal(dir).verify(job: "v", anchor: anchor)
    }

    @Test func aTruncatedJournalIsDetected() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "first\nsecond\n")
        let anchor = try journal(dir).anchor(at: 13)
        try dir.write("j.jsonl", "first\n")
        #expect {
            try journal(dir).verify(job: "v", anchor: anchor)
        } throws: { error in
            (error as? JournalError)?.description.contains("job v at position 13") == true
                && (error as? JournalError)?.description.contains("truncated") == true
        }
    }

    @Test func aRewrittenJournalIsDetected() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "first\nsecond\n")
        let anchor = try journal(dir).anchor(at: 13)
        try dir.write("j.jsonl", "first\nSECOND\nthird\n")
        #expect {
            try journal(dir).verify(job: "v", anchor: anchor)
        } throws: { error in
            (error as? JournalError)?.description.contains("rewritten") == true
        }
    }

    @Test func aDeletedSegmentIsDetected() throws {
        let dir = TemporaryDirectory()
        try dir.write("journal/" + Segment.fileName(for: 0), "one\n")
        try dir.write("journal/" + Segment.fileName(for: 4), "two\n")
        let anchor = try Journal(path: dir.file("journal")).anchor(at: 4)
        #expect(anchor.segment == Segment.fileName(for: 0))
        try FileManager.default.removeItem(atPath: dir.file("journal/" + Segment.fileName(for: 0)))
        #expect {
            try Journal(path: dir.file("journal")).verify(job: "v", anchor: anchor)
        } throws: { error in
            (error as? JournalError)?.description.contains("gone") == true
        }
    }
}

@Suite struct JournalWriterTests {
    @Test func appendsWholeLinesAndRollsSegments() throws {
        let dir = TemporaryDirectory()
        let appender = try JournalWriter(path: dir.file("journal"), directory: true, segmentBytes: 10)
        #expect(try appender.append("aaaa") == 0)
        #expect(try appender.append("bbbbbb") == 5)
        #expect(try appender.append("cc") == 12)  // the first segment reached 12 bytes: a new one starts
        let journal = try Journal(path: dir.file("journal"))
        #expect(journal.segments.map(\.start) == [0, 12])
        #expect(try readAll(journal).map(\.1) == ["aaaa", "bbbbbb", "cc"])

        // A second appender (another process, later) continues the last segment.
        let again = try JournalWriter(path: dir.file("journal"), directory: true, segmentBytes: 10)
        #expect(try again.append("d") == 15)
    }

    @Test func countsLinesForLag() throws {
        let dir = TemporaryDirectory()
        try dir.write("j.jsonl", "a\nb\nc\npartial")
        #expect(try Journal(path: dir.file("j.jsonl")).countLines(from: 2) == 2)
    }
}
