import Dispatch

extension Array where Element: Sendable {
    /// `map` over the elements on all cores (Dispatch's `concurrentPerform`), results in order.
    /// For independent, CPU-bound work per element (separating or measuring particles).
    func parallelMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        if count < 2 { return map(transform) }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        nonisolated(unsafe) let out = results
        self.withUnsafeBufferPointer { input in
            nonisolated(unsafe) let input = input
            DispatchQueue.concurrentPerform(iterations: count) { i in out[i] = transform(input[i]) }
        }
        return results.map { $0! }
    }
}
