/// Which sample a file belongs to: by default the first-level folder under its watch root
/// (`session.depth`). Files shallower than the depth belong to the deepest folder they are in
/// (a file directly in a root belongs to a sample named after the root).
public struct SessionRules: Sendable, Equatable {
    public var roots: [String]
    public var depth: Int

    public init(roots: [String], depth: Int) {
        self.roots = roots.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.depth = depth
    }

    /// The watch root holding `path` (the longest that prefixes it).
    public func root(of path: String) -> String? {
        roots.filter { path.hasPrefix($0 == "/" ? "/" : $0 + "/") }.max { $0.count < $1.count }
    }

    /// (sample name, sample folder, watch root) for a file, or nil when outside every root.
    public func sample(for path: String) -> (name: String, folder: String, root: String)? {
        guard let root = root(of: path) else { return nil }
        let relative = path.dropFirst(root == "/" ? 1 : root.count + 1)
        let folders = relative.split(separator: "/").dropLast().map(String.init)
        let used = Array(folders.prefix(depth))
        let folder = used.isEmpty ? root : (root == "/" ? "" : root) + "/" + used.joined(separator: "/")
        let name = used.isEmpty ? (root.split(separator: "/").last.map(String.init) ?? "/") : used.joined(separator: "/")
        return (name, folder, root)
    }
}
