/// What a store still needs of the journal (`projector journal prune`): the lines behind each
/// checkpoint's anchor and every event held back behind a parked key.
public protocol JournalRetention: CheckpointStore {
    /// The position of the oldest held event; nil when none is held.
    func oldestHeldEventPosition() throws(StoreError) -> Int?
}
