/// An error reading or writing a Gatan DigitalMicrograph file.
///
/// Every error says *what* is wrong (``kind`` and ``message``) and *where*: the byte offset in the
/// file and, once the tag tree is being read, the tag path (`ImageList.2.ImageData.Data`).
public struct DMError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The first bytes are not a DM3/DM4 header.
        case notDigitalMicrograph
        /// A DM header with a version other than 3 or 4.
        case unsupportedVersion
        /// The file ends before a structure that must be there.
        case truncated
        /// A byte that should be a tag kind, delimiter or type code is something else.
        case malformedTag
        /// A declared count or length cannot fit in the rest of the file (or overflows).
        case absurdLength
        /// Tag groups nested deeper than ``DMReader/maximumDepth``.
        case nestingTooDeep
        /// A tag the image model needs is absent or has the wrong type.
        case missingTag
        /// Pixel data of a kind the reader does not decode (e.g. packed complex).
        case unsupportedData
        /// A readable image that is not a micrograph (a spectrum, a 1-D plot, ...).
        case notAMicrograph
        /// The file could not be opened or read.
        case io
        /// The writer was given something it cannot write.
        case invalidArgument
    }

    public var kind: Kind
    public var message: String
    /// Byte offset from the start of the file, where known.
    public var offset: Int?
    /// Dotted tag path (1-based positions for unlabelled entries), where known.
    public var tagPath: String?

    public init(_ kind: Kind, _ message: String, offset: Int? = nil, tagPath: String? = nil) {
        self.kind = kind
        self.message = message
        self.offset = offset
        self.tagPath = tagPath
    }

    public var description: String {
        var where_: [String] = []
        if let offset { where_.append("at byte \(offset)") }
        if let tagPath, !tagPath.isEmpty { where_.append("in tag \(tagPath)") }
        return where_.isEmpty ? message : "\(message) (\(where_.joined(separator: ", ")))"
    }
}
