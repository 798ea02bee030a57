public import ProjectorCore

extension Journal {
    /// The anchor of a checkpoint at `position`: a hash of the bytes just before it.
    public func anchor(at position: Int) throws(JournalError) -> CursorAnchor {
        guard position > 0, let segment = segment(containing: position - 1) else { return .origin }
        let start = max(segment.start, position - CursorAnchor.span)
        guard let bytes = try read(from: start, to: position) else {
            throw .inconsistentSegments(path: path, detail: "cannot read bytes \(start)..<\(position)")
        }
        let hash = Fingerprint.fnv1a(bytes)
        return CursorAnchor(position: position, start: start, hash: hash, segment: Self.name(segment))
    }

    /// Checks that the journal still holds, before `anchor.position`, the bytes a job read.
    public func verify(job: String, anchor: CursorAnchor) throws(JournalError) {
        guard anchor.position > 0 else { return }
        if anchor.position > end {
            throw .checkpointMismatch(
                job: job, position: anchor.position,
                detail: "the journal now ends at \(end), before the checkpoint (truncated or replaced)"
            )
        }
        guard let segment = segment(containing: anchor.start), segment.end >= anchor.position else {
            throw .checkpointMismatch(
                job: job, position: anchor.position,
                detail: "segment \(anchor.segment) holding the last bytes read is gone (rotated away or deleted)"
            )
        }
        if !anchor.segment.isEmpty, Self.name(segment) != anchor.segment {
            throw .checkpointMismatch(
                job: job, position: anchor.position,
                detail: "the last bytes read were in segment \(anchor.segment), now \(Self.name(segment))"
            )
        }
        guard let bytes = try read(from: anchor.start, to: anchor.position) else {
            throw .checkpointMismatch(
                job: job, position: anchor.position, detail: "bytes \(anchor.start)..<\(anchor.position) are gone"
            )
        }
        let hash = Fingerprint.fnv1a(bytes)
        if hash != anchor.hash {
            throw .checkpointMismatch(
                job: job, position: anchor.position,
                detail: "bytes \(anchor.start)..<\(anchor.position) differ from those read (rewritten)"
            )
        }
    }
}
