import Foundation

/// A small lock-protected value shared with another thread (a reader, a receiver's handler).
public final class Atomic<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T

    public init(_ value: T) { stored = value }

    public var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// Changes the value and returns what `change` made of it.
    @discardableResult
    public func update(_ change: (T) -> T) -> T {
        lock.withLock {
            stored = change(stored)
            return stored
        }
    }
}
