extension DMValue {
    /// A short human-readable rendering: numbers, text, and arrays summarised (text arrays of
    /// up to `maxText` code units are shown as text, numeric arrays of up to 8 elements in full).
    public func summary(maxText: Int = 256) -> String {
        switch self {
        case .int(let v, let t): return "\(v) (\(t))"
        case .uint(let v, let t): return "\(v) (\(t))"
        case .float(let v, let t): return "\(v) (\(t))"
        case .bool(let b): return "\(b)"
        case .string(let s): return "\"\(s)\""
        case .structure(let f): return "{" + f.map { $0.summary() }.joined(separator: ", ") + "}"
        case .array(let a):
            if a.element == .simple(.uint16), a.count <= maxText, let s = a.string {
                return "\"\(s)\""
            }
            let kind: String
            switch a.element {
            case .simple(let t): kind = "\(t)"
            case .structure(let f): kind = "struct{" + f.map { "\($0)" }.joined(separator: ",") + "}"
            }
            if a.count <= 8 && a.count * a.fieldTypes.count <= 16 {
                return "[" + a.doubles().map { "\($0)" }.joined(separator: ", ") + "] (\(kind))"
            }
            return "array of \(a.count) \(kind) at byte \(a.byteOffset)"
        }
    }
}
