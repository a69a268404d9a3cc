import Logging
import Journal

/// Wraps a log handler so that messages and metadata are printable: a file or sample name with a
/// newline or a terminal escape cannot forge a log line or reach the terminal raw
/// (`LogText.printable`).
public struct PrintableLogHandler: LogHandler {
    public var inner: any LogHandler

    public init(_ inner: any LogHandler) { self.inner = inner }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    static func clean(_ v: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch v {
        case .string(let s): return .string(LogText.printable(s))
        case .stringConvertible(let c): return .string(LogText.printable(c.description))
        case .array(let a): return .array(a.map(clean))
        case .dictionary(let d): return .dictionary(d.mapValues(clean))
        }
    }

    public func log(event: LogEvent) {
        var e = event
        e.message = "\(LogText.printable(event.message.description))"
        e.metadata = event.metadata?.mapValues(Self.clean)
        inner.log(event: e)
    }
}
