/// The named parameters a job's SQL may use, whatever the database. Event data is always bound,
/// never spliced (SPEC §3).
public enum JobParameter: String, CaseIterable, Sendable {
    case key
    case id
    case type
    case aggregateType = "aggregate_type"
    case aggregateId = "aggregate_id"
    case position
    case occurredAt = "occurred_at"
    case data
    case metadata

    /// Where the parameter's slot sits in a compiled statement's parameters: a switch, not a
    /// dictionary (binding looks up every parameter of every statement for every event).
    @inline(__always)
    package var ordinal: Int {
        switch self {
        case .key: 0
        case .id: 1
        case .type: 2
        case .aggregateType: 3
        case .aggregateId: 4
        case .position: 5
        case .occurredAt: 6
        case .data: 7
        case .metadata: 8
        }
    }
}

extension JobParameter {
    /// The parameters a job of `mode` may use: a refresh takes its key only, an apply job every
    /// field of the event.
    public static func allowed(in mode: JobDefinition.Mode) -> [JobParameter] {
        mode == .refresh ? [.key] : allCases
    }
}
