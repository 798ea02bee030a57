import Foundation
import ProjectorCore
import Testing

/// The scanner's accept/reject and extracted fields against Python's `json` module (run as a child
/// process) on generated and mutated lines.
@Suite struct DifferentialTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let templates = [
        #"{"id":"e-1","type":"TEST_RUN_CREATED","aggregateType":"test_run","aggregateId":42,"occurredAt":"2026-11-26T10:00:00.000Z","data":{"testRunId":"42","n":[1,2.5,-0,1e3,true,false,null]},"metadata":{"u":"x"}}"#,
        #"{"type":"A","aggregateType":"t","aggregateId":"k\u00e9\ud83d\ude00","data":{"s":"tab\tq\"b\\s\/"}}"#,
        #"{ "type" : "B" , "aggregateType" : "t" , "aggregateId" : -7 , "id" : 12345678901234567890 }"#,
        #"{"type":"C","aggregateType":"t","aggregateId":"1","data":[[[[{"a":{}}]]]],"x":"ü→日本"}"#,
        #"{"type":"D","aggregateType":"t","aggregateId":"1","id":null,"occurredAt":null,"extra":{"k":[{},[],""]}}"#,
    ]
    static let insertions: [[UInt8]] = [
        [0x22], [0x5C], [0x7B], [0x7D], [0x5B], [0x5D], [0x2C], [0x3A], [0x20], [0x00], [0x1F], [0xFF], [0xC3],
        [0xE2, 0x82], [0xED, 0xA0, 0x80], Array("\\ud800".utf8), Array("\\u12".utf8), Array("NaN".utf8),
        Array("01".utf8), Array("1.".utf8), Array("tru".utf8), [0x09], [0x0D], Array("\\x".utf8),
    ]

    func lines() -> [[UInt8]] {
        var rng = Generator(state: 20_261_127)
        var out: [[UInt8]] = Self.templates.map { Array($0.utf8) }
        for _ in 0..<4000 {
            var line = Array(Self.templates[Int(rng.next() % UInt64(Self.templates.count))].utf8)
            for _ in 0...(rng.next() % 3) {
                let at = Int(rng.next() % UInt64(line.count + 1))
                switch rng.next() % 4 {
                case 0:
                    line.insert(contentsOf: Self.insertions[Int(rng.next() % UInt64(Self.insertions.count))], at: at)
                case 1: if at < line.count { line.remove(at: at) }
                case 2: if at < line.count { line[at] = UInt8(truncatingIfNeeded: rng.next()) }
                default:
                    let deep = Int(rng.next() % 80)
                    line.insert(
                        contentsOf: Array(
                            (#""deep":"# + String(repeating: "[", count: deep) + String(repeating: "]", count: deep)
                                + ",").utf8),
                        at: 1)
                }
            }
            line.removeAll { $0 == 0x0A }
            out.append(line)
        }
        return out
    }

    func normalized(_ event: ScannedLine, _ span: ByteSpan?, _ kind: JSONKind) -> String? {
        guard let span, kind != .null else { return nil }
        let text = event.text(span)
        if kind == .integer, text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" }) { return "0" }
        return text
    }

    @Test func scannerAgreesWithPythonsJSONModule() throws {
        let lines = lines()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("differential-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(lines.flatMap { $0 + [0x0A] }).write(to: file)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "reference_json.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let verdicts = try #require(try JSONSerialization.jsonObject(with: data) as? [[Any]])
        #expect(verdicts.count == lines.count)
        var accepted = 0
        var disagreements: [String] = []
        let scanner = EventScanner(maxDepth: 64)
        for (line, verdict) in zip(lines, verdicts) {
            let reference = verdict[0] as? Bool ?? false
            let ours = scanner.scan(line)
            switch ours {
            case .success(let event):
                let fields = event.fields
                accepted += 1
                let mine = [
                    normalized(event, fields.type, .string), normalized(event, fields.aggregateType, .string),
                    normalized(event, fields.aggregateId, fields.aggregateIdKind),
                    normalized(event, fields.id, fields.idKind),
                ]
                let theirs = verdict.dropFirst().map { $0 as? String }
                if !reference || mine != Array(theirs) {
                    disagreements.append("\(String(decoding: line, as: UTF8.self)): ours \(mine), python \(theirs)")
                }
            case .failure(let reason):
                if reference { disagreements.append("\(String(decoding: line, as: UTF8.self)): we reject (\(reason))") }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(accepted > 500 && accepted < lines.count - 500, "the mutations should give both outcomes: \(accepted)")
    }
}
