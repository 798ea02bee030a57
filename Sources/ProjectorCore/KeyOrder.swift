/// How keys are told apart and ordered: a key that spells a canonical integer is an integer (so it
/// meets INTEGER keys in indexes), and a batch's keys run in numeric order (page-cache locality).
public enum KeyOrder {
    /// The integer `text` spells in canonical form (no sign but `-`, no leading zero), if any.
    public static func canonicalInteger(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard let first = utf8.first, utf8.count <= 18 else { return nil }
        let digits = first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        guard let lead = digits.first, lead >= UInt8(ascii: "0"), lead <= UInt8(ascii: "9") else { return nil }
        if lead == UInt8(ascii: "0") && (digits.count > 1 || first == UInt8(ascii: "-")) { return nil }
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    /// Whether key `a` runs before key `b`, each with its `canonicalInteger`: integer keys first,
    /// in numeric order, then the others in byte order.
    @inlinable
    public static func precedes(_ a: (number: Int?, key: String), _ b: (number: Int?, key: String)) -> Bool {
        switch (a.number, b.number) {
        case (let x?, let y?): return x < y
        case (nil, nil): return a.key < b.key
        case (_?, nil): return true
        case (nil, _?): return false
        }
    }
}
