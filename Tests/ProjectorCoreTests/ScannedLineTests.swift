import ProjectorCore
import Testing

@Suite struct ScannedLineTests {
    let scanner = EventScanner()
    static let line = Array(
        #"{"id":7,"type":"A\u0042","aggregateType":"t","aggregateId":"k\"1","data":{"n":{"m":"x\ty"}}}"#.utf8)

    @Test func fieldsReadAsText() throws {
        let event = try scanner.scan(Self.line).get()
        #expect(event.count == Self.line.count)
        #expect(event.bytes == Self.line)
        #expect(event.text(\.type) == "AB")
        #expect(event.text(\.aggregateId) == "k\"1")
        #expect(event.text(\.id) == "7")
        #expect(event.fields.idKind == .integer)
        #expect(event.text(\.occurredAt) == nil)
        #expect(event.text(\.data) == #"{"n":{"m":"x\ty"}}"#)
        let found = try #require(event.find(path: ["n", "m"], in: event.fields.data!))
        #expect(found.kind == .string)
        #expect(event.text(found.span) == "x\ty")
        #expect(event.find(path: ["n", "missing"], in: event.fields.data!) == nil)
    }

    @Test func spansAreRelativeToTheLineInASlice() throws {
        let padded = Array("ignored\n".utf8) + Self.line + Array("\nafter".utf8)
        let slice = padded[8..<(8 + Self.line.count)]
        let event = try scanner.scan(slice).get()
        let whole = try scanner.scan(Self.line).get()
        #expect(event.bytes == Self.line)
        #expect(event.text(\.type) == "AB")
        let type = try #require(event.fields.type)
        #expect(event.bytes(of: type) == Array(#"A\u0042"#.utf8))
        #expect(event.bytes(of: type, equal: Array(#"A\u0042"#.utf8)))
        #expect(!event.bytes(of: type, equal: Array("AB".utf8)))
        #expect(event.fingerprint(of: type) == Fingerprint.fnv1a(Array(#"A\u0042"#.utf8)))
        #expect(event.fingerprint(of: type) == whole.fingerprint(of: type))
    }

    @Test func aBorrowedViewReadsLikeAnOwnedLine() throws {
        let owned = try scanner.scan(Self.line).get()
        let (text, key, fingerprint) = try Self.line.withUnsafeBytes { raw in
            let view = try scanner.scan(borrowing: raw).get()
            let type = try #require(view.fields.type)
            return (
                view.text(\.aggregateId), view.find(path: ["n"], in: view.fields.data!)?.span,
                view.fingerprint(of: type)
            )
        }
        #expect(text == owned.text(\.aggregateId))
        #expect(key == owned.find(path: ["n"], in: owned.fields.data!)?.span)
        #expect(fingerprint == owned.fingerprint(of: owned.fields.type!))
    }

    @Test func rejectsLikeTheScannerDoes() {
        guard case .failure(let reason) = scanner.scan(Array(#"{"type":"A"}"#.utf8)) else {
            Issue.record("accepted a line without aggregateType")
            return
        }
        #expect(reason == .missingField("aggregateType"))
    }
}
