import Testing
@testable import GatanDM

/// Hand-made bad files: each gets a typed error naming what is wrong and where; none crashes,
/// hangs, or allocates memory in proportion to a length field.
@Suite struct BadFilesAreRefusedClearly {
    static let small: [UInt8] = try! DMWriter.write([DMImageToWrite(title: "tiny", shape: [2, 3], axes: [DMAxis(scale: 0.5, origin: 0, unit: "nm"), DMAxis(scale: 0.5, origin: 0, unit: "nm")], pixels: .float32([1, 2, 3, 4, 5, 6]))], thumbnail: false)
    static let small4: [UInt8] = try! DMWriter.write([DMImageToWrite(title: "tiny", shape: [2, 3], pixels: .float32([1, 2, 3, 4, 5, 6]))], version: 4, thumbnail: false)

    /// DM3 header for a root group with `count` entries.
    static func header(version: UInt32 = 3) -> [UInt8] {
        var h: [UInt8] = []
        DMWriter.Encoder.appendBE(&h, UInt64(version), 4)
        DMWriter.Encoder.appendBE(&h, 0, version == 4 ? 8 : 4)
        DMWriter.Encoder.appendBE(&h, 1, 4)
        return h
    }

    static func kind(_ bytes: [UInt8]) -> DMError? {
        do {
            let file = try DMReader.parse(bytes)
            for image in try file.allImages() { _ = try image.floatPixels() }
            return nil
        } catch let e as DMError { return e } catch { Issue.record("non-DMError \(error)"); return nil }
    }

    @Test("a file cut at every byte before its end is refused as truncated, naming the offset", arguments: [3, 4])
    func truncatedEverywhere(version: Int) {
        let full = version == 3 ? Self.small : Self.small4
        #expect(Self.kind(full) == nil)
        // The last 8 bytes are the end-of-file padding; any cut before them loses structure.
        for length in 0..<(full.count - 8) {
            let e = Self.kind(Array(full.prefix(length)))
            #expect(e != nil, "prefix of \(length) bytes was accepted")
            guard let e else { continue }
            #expect([.truncated, .notDigitalMicrograph, .absurdLength].contains(e.kind), "\(length): \(e)")
            #expect((e.offset ?? 0) <= length, "\(length): \(e)")
            #expect(e.description.contains("byte"))
        }
    }

    @Test("wrong magic and unknown versions are named as such")
    func wrongMagic() {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        #expect(Self.kind(png)?.kind == .notDigitalMicrograph)
        #expect(Self.kind([])?.kind == .notDigitalMicrograph)
        var v5 = Self.small; v5[3] = 5
        #expect(Self.kind(v5)?.kind == .unsupportedVersion)
        var order = Self.small; order[11] = 7
        #expect(Self.kind(order)?.kind == .notDigitalMicrograph)
    }

    @Test("absurd tag counts are refused before anything is allocated")
    func absurdTagCount() {
        var bytes = Self.header() + [0, 1]
        DMWriter.Encoder.appendBE(&bytes, 0xFFFF_FFFF, 4)
        bytes += [UInt8](repeating: 0, count: 64)
        let e = Self.kind(bytes)
        #expect(e?.kind == .absurdLength)
        #expect(e?.offset == 14)
        var wide = Self.header(version: 4) + [0, 1]
        DMWriter.Encoder.appendBE(&wide, UInt64.max, 8)
        #expect(Self.kind(wide + [UInt8](repeating: 0, count: 64))?.kind == .absurdLength)
    }

    /// A root group holding one data tag `label` with the given type words and payload.
    static func dataTag(_ words: [UInt64], payload: [UInt8], label: String = "x", version: UInt32 = 3) -> [UInt8] {
        let wide = version == 4
        var b = header(version: version) + [0, 1]
        DMWriter.Encoder.appendBE(&b, 1, wide ? 8 : 4)
        b.append(21)
        DMWriter.Encoder.appendBE(&b, UInt64(label.utf8.count), 2)
        b += Array(label.utf8)
        var body: [UInt8] = Array("%%%%".utf8)
        DMWriter.Encoder.appendBE(&body, UInt64(words.count), wide ? 8 : 4)
        for w in words { DMWriter.Encoder.appendBE(&body, w, wide ? 8 : 4) }
        body += payload
        if wide { DMWriter.Encoder.appendBE(&b, UInt64(body.count), 8) }
        return b + body
    }

    @Test("absurd array, string and type-word lengths are refused with the tag path")
    func absurdLengths() {
        let hugeArray = Self.kind(Self.dataTag([20, 6, 0xFFFF_FFF0], payload: [1, 2, 3, 4], label: "Data"))
        #expect(hugeArray?.kind == .absurdLength)
        #expect(hugeArray?.tagPath == "Data")
        let overflowing = Self.kind(Self.dataTag([20, 7, UInt64.max / 4], payload: [], version: 4))
        #expect(overflowing?.kind == .absurdLength)
        #expect(Self.kind(Self.dataTag([18, 1 << 31], payload: [65, 66]))?.kind == .absurdLength)
        var manyWords = Self.header() + [0, 1, 0, 0, 0, 1, 21, 0, 1, 0x78] + Array("%%%%".utf8)
        DMWriter.Encoder.appendBE(&manyWords, 0x7FFF_FFFF, 4)
        #expect(Self.kind(manyWords)?.kind == .absurdLength)
    }

    @Test("malformed type words, tag kinds and delimiters are malformedTag errors")
    func malformedTags() {
        #expect(Self.kind(Self.dataTag([99], payload: [0, 0, 0, 0]))?.kind == .malformedTag)       // unknown type
        #expect(Self.kind(Self.dataTag([15, 0, 5, 0, 2], payload: []))?.kind == .malformedTag)    // struct words short
        #expect(Self.kind(Self.dataTag([20, 15, 0, 2, 0, 2], payload: []))?.kind == .malformedTag) // array of struct short
        #expect(Self.kind(Self.dataTag([6, 6], payload: []))?.kind == .malformedTag)               // simple with 2 words
        #expect(Self.kind(Self.dataTag([], payload: []))?.kind == .malformedTag)                   // no type words
        var badKind = Self.dataTag([3], payload: [1, 0, 0, 0])
        badKind[18] = 7
        let e = Self.kind(badKind)
        #expect(e?.kind == .malformedTag && e?.offset == 18)
        var badDelimiter = Self.dataTag([3], payload: [1, 0, 0, 0])
        badDelimiter[22] = UInt8(ascii: "#")
        #expect(Self.kind(badDelimiter)?.kind == .malformedTag)
    }

    @Test("a DM4 entry whose content runs past its declared length is refused")
    func entryLengthMismatch() {
        var b = Self.dataTag([3], payload: [1, 0, 0, 0], version: 4)
        // entry length field sits after kind(1) + label length(2) + label(1), at 16+2+8 + 4
        let at = 16 + 2 + 8 + 4
        for i in 0..<8 { b[at + i] = 0 }
        b[at + 7] = 4
        #expect(Self.kind(b)?.kind == .malformedTag)
    }

    @Test("deeply nested groups stop at the nesting limit, even a million levels deep")
    func deepNesting() {
        for depth in [DMReader.maximumDepth + 1, 1_000_000] {
            var b = Self.header()
            for _ in 0..<depth { b += [0, 1, 0, 0, 0, 1, 20, 0, 0] }
            b += [0, 1, 0, 0, 0, 0]
            let e = Self.kind(b)
            #expect(e?.kind == .nestingTooDeep)
            #expect(e?.tagPath?.hasPrefix("1.1.1") == true)
        }
        // At the limit it still reads.
        var ok = Self.header()
        for _ in 0..<DMReader.maximumDepth { ok += [0, 1, 0, 0, 0, 1, 20, 0, 0] }
        ok += [0, 1, 0, 0, 0, 0]
        #expect(Self.kind(ok) == nil)
    }

    @Test("an image whose Dimensions disagree with its Data size is refused when decoded")
    func dimensionsDisagreeWithData() throws {
        let tree: DMTagTree = .group([("ImageList", .group([("", .group([
            ("ImageData", .group([
                ("Data", .array(.float32, count: 4, bytes: [UInt8](repeating: 0, count: 16))),
                ("DataType", .scalar(.uint(2, .uint32))),
                ("Dimensions", .group([("", .scalar(.uint(100_000, .uint32))), ("", .scalar(.uint(100_000, .uint32)))])),
            ])),
        ]))]))])
        let image = try #require(try DMReader.parse(DMWriter.encode(root: tree)).images().first)
        #expect(image.shape == [100_000, 100_000])
        let e = #expect(throws: DMError.self) { try image.floatPixels() }
        #expect(e?.kind == .malformedTag)
        #expect(e?.tagPath == "ImageList.1.ImageData.Data")
    }

    @Test("images without data or with unknown DataType say which tag is missing")
    func missingImageTags() throws {
        let noData: DMTagTree = .group([("ImageList", .group([("", .group([("ImageData", .group([("DataType", .scalar(.uint(2, .uint32)))]))]))]))])
        let e = #expect(throws: DMError.self) { try DMReader.parse(DMWriter.encode(root: noData)).images() }
        #expect(e?.kind == .missingTag && e?.tagPath == "ImageList.1.ImageData.Data")
        let badType: DMTagTree = .group([("ImageList", .group([("", .group([("ImageData", .group([
            ("Data", .array(.float32, count: 1, bytes: [0, 0, 0, 0])), ("DataType", .scalar(.uint(99, .uint32))),
            ("Dimensions", .group([("", .scalar(.uint(1, .uint32)))])),
        ]))]))]))])
        #expect(throws: DMError.self) { try DMReader.parse(DMWriter.encode(root: badType)).images() }
    }

    @Test("an empty image (a zero dimension) is not a micrograph")
    func emptyImage() throws {
        let tree: DMTagTree = .group([("ImageList", .group([("", .group([
            ("ImageData", .group([
                ("Data", .array(.float32, count: 0, bytes: [])),
                ("DataType", .scalar(.uint(2, .uint32))),
                ("Dimensions", .group([("", .scalar(.uint(5, .uint32))), ("", .scalar(.uint(0, .uint32)))])),
            ])),
        ]))]))])
        let image = try #require(try DMReader.parse(DMWriter.encode(root: tree)).images().first)
        let e = #expect(throws: DMError.self) { try image.validateAsMicrograph() }
        #expect(e?.message.contains("empty") == true)
    }

    @Test("a 1-D spectrum written as an image is not a micrograph")
    func spectrumAsImage() throws {
        let flat = try #require(try DMReader.parse(DMWriter.write([DMImageToWrite(title: "eels", shape: [1, 2048], pixels: .float32(Array(repeating: 1, count: 2048)))])).images().first)
        #expect(throws: DMError.self) { try flat.validateAsMicrograph() }
        var m = DMMetadata(); m.format = "Spectrum"; m.signal = "EELS"
        let tagged = try #require(try DMReader.parse(DMWriter.write([DMImageToWrite(title: "eels", shape: [4, 4], pixels: .float32(Array(repeating: 1, count: 16)), metadata: m)])).images().first)
        let e = #expect(throws: DMError.self) { try tagged.validateAsMicrograph() }
        #expect(e?.kind == .notAMicrograph)
        #expect(e?.description.contains("spectrum") == true)
    }

    @Test("random byte corruption never crashes: every mutant reads or throws DMError")
    func mutationsNeverCrash() {
        var rng = SplitMix64(seed: 20261125)
        for base in [Self.small, Self.small4] {
            for _ in 0..<3000 {
                var b = base
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(b.count))
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                _ = Self.kind(b)
            }
        }
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
