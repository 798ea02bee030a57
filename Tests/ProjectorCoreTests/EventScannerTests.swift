import ProjectorCore
import Testing

@Suite struct EventScannerTests {
    let scanner = EventScanner(maxDepth: 64)

    func scan(_ text: String) -> Result<EventFields, RejectReason> {
        scanner.scan(Array(text.utf8)).map(\.fields)
    }

    func scan(bytes: [UInt8]) -> Result<EventFields, RejectReason> {
        scanner.scan(bytes).map(\.fields)
    }

    func text(_ line: String, _ span: ByteSpan?) -> String? {
        guard let span else { return nil }
        return try? scanner.scan(Array(line.utf8)).get().text(span)
    }

    @Test func extractsEveryContractField() throws {
        let line =
            #"{"id":"e-1","type":"TEST_RUN_CREATED","aggregateType":"test_run","aggregateId":"42","occurredAt":"2026-11-26T10:00:00.000Z","data":{"testRunId":"42","n":[1,2.5,-3e2,true,null]},"metadata":{"userId":"u"},"extra":"kept"}"#
        let fields = try scan(line).get()
        #expect(text(line, fields.id) == "e-1")
        #expect(text(line, fields.type) == "TEST_RUN_CREATED")
        #expect(text(line, fields.aggregateType) == "test_run")
        #expect(text(line, fields.aggregateId) == "42")
        #expect(fields.aggregateIdKind == .string)
        #expect(text(line, fields.occurredAt) == "2026-11-26T10:00:00.000Z")
        #expect(fields.dataKind == .object)
        #expect(text(line, fields.data) == #"{"testRunId":"42","n":[1,2.5,-3e2,true,null]}"#)
        #expect(text(line, fields.metadata) == #"{"userId":"u"}"#)
    }

    @Test func acceptsIntegerAggregateIdsAndWhitespace() throws {
        let line = "  { \"type\" : \"A\" ,\t\"aggregateType\":\"x\", \"aggregateId\" : 9007199254740993 }  "
        let fields = try scan(line).get()
        #expect(fields.aggregateIdKind == .integer)
        #expect(text(line, fields.aggregateId) == "9007199254740993")
    }

    @Test func decodesEscapesInFieldsAndKeys() throws {
        let line = #"{"typ\u0065":"A\"B\\C\u00e9\ud83d\ude00","aggregateType":"t","aggregateId":"x\/y"}"#
        let fields = try scan(line).get()
        #expect(text(line, fields.type) == "A\"B\\Cé😀")
        #expect(text(line, fields.aggregateId) == "x/y")
    }

    @Test func laterDuplicateKeysWin() throws {
        let line = #"{"type":"A","type":"B","aggregateType":"t","aggregateId":"1"}"#
        #expect(text(line, try scan(line).get().type) == "B")
    }

    @Test(arguments: [
        ("", "empty_line"),
        ("   ", "empty_line"),
        ("{", "invalid_json"),
        ("{}x", "invalid_json"),
        (#"{"type":"A",}"#, "invalid_json"),
        (#"{"type":'A'}"#, "invalid_json"),
        (#"{"a":01}"#, "invalid_json"),
        (#"{"a":1.}"#, "invalid_json"),
        (#"{"a":-}"#, "invalid_json"),
        (#"{"a":1e}"#, "invalid_json"),
        (#"{"a":.5}"#, "invalid_json"),
        (#"{"a":tru}"#, "invalid_json"),
        (#"{"a":nul}"#, "invalid_json"),
        (#"{"a":"\x"}"#, "invalid_json"),
        (#"{"a":"\u12"}"#, "invalid_json"),
        (#"{"a":"\ud800"}"#, "invalid_json"),
        (#"{"a":"\udc00\ud800"}"#, "invalid_json"),
        ("{\"a\":\"tab\there\"}", "invalid_json"),
        (#"{"a":[1,2}"#, "invalid_json"),
        (#"{"a" 1}"#, "invalid_json"),
        (#"{1:2}"#, "invalid_json"),
        (#"[1,2]"#, "not_an_object"),
        (#""str""#, "not_an_object"),
        (#"{"aggregateType":"t","aggregateId":"1"}"#, "missing_field"),
        (#"{"type":"A","aggregateId":"1"}"#, "missing_field"),
        (#"{"type":"A","aggregateType":"t"}"#, "missing_field"),
        (#"{"type":5,"aggregateType":"t","aggregateId":"1"}"#, "wrong_type"),
        (#"{"type":"","aggregateType":"t","aggregateId":"1"}"#, "wrong_type"),
        (#"{"type":"A","aggregateType":null,"aggregateId":"1"}"#, "wrong_type"),
        (#"{"type":"A","aggregateType":"t","aggregateId":1.5}"#, "wrong_type"),
        (#"{"type":"A","aggregateType":"t","aggregateId":{"x":1}}"#, "wrong_type"),
        (#"{"type":"A","aggregateType":"t","aggregateId":"1","id":[1]}"#, "wrong_type"),
        (#"{"type":"A","aggregateType":"t","aggregateId":"1","occurredAt":5}"#, "wrong_type"),
    ])
    func rejects(line: String, code: String) {
        guard case .failure(let reason) = scan(line) else {
            Issue.record("accepted: \(line)")
            return
        }
        #expect(reason.code == code, "\(line) → \(reason)")
    }

    @Test(
        arguments: [
            [0x22, 0xFF, 0x22],  // invalid byte
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8 encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
        ] as [[UInt8]])
    func rejectsInvalidUTF8InStrings(value: [UInt8]) {
        let line = Array(#"{"type":"A","aggregateType":"t","aggregateId":"1","data":"#.utf8) + value + [0x7D]
        guard case .failure(let reason) = scan(bytes: line) else {
            Issue.record("accepted invalid UTF-8 \(value)")
            return
        }
        #expect(reason.code == "invalid_utf8")
    }

    @Test func acceptsValidMultiByteUTF8() throws {
        let line = #"{"type":"A","aggregateType":"t","aggregateId":"ü→😀","data":{"k":"日本語"}}"#
        #expect(text(line, try scan(line).get().aggregateId) == "ü→😀")
    }

    @Test func boundsNestingWithoutExhaustingTheStack() {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let line = #"{"type":"A","aggregateType":"t","aggregateId":"1","data":"# + deep + "}"
        guard case .failure(let reason) = scan(line) else {
            Issue.record("accepted nesting deeper than the bound")
            return
        }
        #expect(reason.code == "too_deep")
        let shallow =
            #"{"type":"A","aggregateType":"t","aggregateId":"1","data":"#
            + String(repeating: "[", count: 62) + String(repeating: "]", count: 62) + "}"
        #expect((try? scan(shallow).get()) != nil)
    }

    @Test func longPlainStringsCrossWordBoundaries() throws {
        for length in 0..<40 {
            let value = String(repeating: "a", count: length)
            let line = #"{"type":"\#(value)x","aggregateType":"t","aggregateId":"\#(value)"}"#
            let fields = try scan(line).get()
            #expect(text(line, fields.aggregateId) == value)
            let withQuote = #"{"type":"A","aggregateType":"t","aggregateId":"\#(value)\"\#(value)"}"#
            #expect(text(withQuote, try scan(withQuote).get().aggregateId) == value + "\"" + value)
        }
    }

    @Test func findsDataPaths() throws {
        let line =
            #"{"type":"A","aggregateType":"t","aggregateId":"1","data":{"a":{"b\u0031":[1,{"x":"}"}],"b1":7},"testRunId":"42","n":12,"z":null}}"#
        let event = try scanner.scan(Array(line.utf8)).get()
        func find(_ path: [String]) -> (JSONKind, String)? {
            event.find(path: path, in: event.fields.data!).map { ($0.kind, event.text($0.span)) }
        }
        #expect(find(["testRunId"])?.1 == "42")
        #expect(find(["n"])?.0 == .integer)
        // "b\u0031" is "b1" too: the later key wins, as for the scanner's top-level fields.
        #expect(find(["a", "b1"])?.1 == "7")
        #expect(find(["a", "b1"])?.0 == .integer)
        #expect(find(["z"])?.0 == .null)
        #expect(find(["missing"]) == nil)
        #expect(find(["a", "missing"]) == nil)
        #expect(find(["testRunId", "deeper"]) == nil)
    }
}
