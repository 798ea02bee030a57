/// Journal lines for tests.
public enum Events {
    /// A valid event line (without its newline).
    public static func line(
        type: String, aggregateType: String = "test_run", aggregateId: String, id: String? = nil,
        data: String = "{}", occurredAt: String = "2026-11-26T10:00:00.000Z"
    ) -> String {
        let idField = id.map { #""id":"\#($0)","# } ?? ""
        return
            #"{\#(idField)"type":"\#(type)","aggregateType":"\#(aggregateType)","aggregateId":"\#(aggregateId)","occurredAt":"\#(occurredAt)","data":\#(data)}"#
    }
}
