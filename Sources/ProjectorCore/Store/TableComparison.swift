/// Compares a job's read model with one recomputed from the write model (`projector verify`).
public protocol TableComparison {
    /// Compares every read-model table of the scratch store at `scratchPath` (a rebuild's) with
    /// the live one, both ways, by table name.
    func compareTables(withScratchAt scratchPath: String) throws(StoreError) -> [ReadModelDrift]
}

/// A job recomputed key by key in empty tables beside the live read model (`verify --sample`).
public protocol KeyRecomputation: AnyObject {
    /// Every key of the job's `@keys`, in key order.
    func allKeys() throws(StoreError) -> [String]
    /// Recomputes `key` into emptied tables and compares them with the live read model one way:
    /// per table (by name), the rows the live one lacks or holds differently.
    func recompute(key: String) throws(StoreError) -> [ReadModelDrift]
    /// For a job with `@refresh_batch`: refreshes `keys` into emptied tables once key by key with
    /// `@refresh` and once with `@refresh_batch` (the keys in batches of up to `batchSize`), and
    /// compares the two results both ways, per table: `missingOrDifferent` are rows `@refresh`
    /// leaves that `@refresh_batch` does not, `unexpected` rows only `@refresh_batch` leaves.
    func compareRefreshForms(keys: [String], batchSize: Int) throws(StoreError) -> [ReadModelDrift]
}

/// Where a table of the live read model differs from its recomputation.
public struct ReadModelDrift: Codable, Sendable, Equatable {
    public var table: String
    /// Rows the recompute has that the live model lacks or holds differently (the first 20).
    public var missingOrDifferent: [String]
    /// Rows the live model has that the recompute does not (the first 20; whole comparisons only).
    public var unexpected: [String]
    public var missingCount: Int
    public var unexpectedCount: Int

    public init(
        table: String, missingOrDifferent: [String], unexpected: [String], missingCount: Int, unexpectedCount: Int
    ) {
        self.table = table
        self.missingOrDifferent = missingOrDifferent
        self.unexpected = unexpected
        self.missingCount = missingCount
        self.unexpectedCount = unexpectedCount
    }

    /// The drift of `table`, from what the store counts and samples: the rows the recompute has
    /// that the live model lacks (`missing`) and, `bothWays`, the rows only the live model has.
    public static func comparing<E: Error>(
        _ table: String, bothWays: Bool, missing: () throws(E) -> (count: Int, sample: [String]),
        unexpected: () throws(E) -> (count: Int, sample: [String])
    ) throws(E) -> ReadModelDrift {
        let lacking = try missing()
        var drift = ReadModelDrift(
            table: table, missingOrDifferent: lacking.sample, unexpected: [], missingCount: lacking.count,
            unexpectedCount: 0)
        if bothWays {
            let extra = try unexpected()
            drift.unexpected = extra.sample
            drift.unexpectedCount = extra.count
        }
        return drift
    }
}
